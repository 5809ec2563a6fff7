//! Build script: compile the small C shim that does INCRBYFLOAT's `long double` arithmetic
//! exactly as Redis (see src/command/longdouble.c).

fn main() {
    println!("cargo:rerun-if-changed=src/command/longdouble.c");
    cc::Build::new()
        .file("src/command/longdouble.c")
        .warnings(true)
        .compile("picket_longdouble");
}

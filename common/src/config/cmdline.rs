//! redis-server-style command-line directives: `--port 6380 --save "" --bind 127.0.0.1 ::1`.

use super::{ConfigError, Location, RawDirective};
use crate::sds::split_args;

/// Parses command-line arguments (without the program name and config file) as Redis
/// does: each `--name` starts a directive and the following arguments are its values. The
/// first argument after a bare `--name` is always a value, even if it starts with `--`;
/// `--name value` in one argument is split like a config line; `--save` with no value
/// (last, or followed by another `--name`) means `save ""`.
pub fn parse_args(args: &[String]) -> Result<Vec<RawDirective>, ConfigError> {
    let mut out: Vec<RawDirective> = Vec::new();
    let mut needs_value = false;
    for (j, arg) in args.iter().enumerate() {
        if !needs_value && arg.starts_with("--") {
            let syntax = |message: &str| ConfigError::Syntax {
                location: Location::CommandLine,
                message: format!("{message} in '{arg}'"),
            };
            let tokens =
                split_args(&arg.as_bytes()[2..]).ok_or_else(|| syntax("unbalanced quotes"))?;
            let mut tokens = tokens.into_iter().map(String::from_utf8);
            let name = match tokens.next() {
                Some(Ok(name)) => name.to_ascii_lowercase(),
                Some(Err(_)) => return Err(syntax("invalid UTF-8")),
                None => return Err(syntax("missing directive name")),
            };
            let mut values: Vec<String> = tokens
                .collect::<Result<_, _>>()
                .map_err(|_| syntax("invalid UTF-8"))?;
            if values.is_empty() {
                let next_is_name = args.get(j + 1).is_none_or(|next| next.starts_with("--"));
                if name == "save" && next_is_name {
                    values.push(String::new());
                } else {
                    needs_value = true;
                }
            }
            out.push(RawDirective {
                location: Location::CommandLine,
                name,
                args: values,
            });
        } else {
            let Some(last) = out.last_mut() else {
                return Err(ConfigError::Syntax {
                    location: Location::CommandLine,
                    message: format!("'{arg}' does not follow a --name"),
                });
            };
            last.args.push(arg.clone());
            needs_value = false;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Vec<(String, Vec<String>)> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_args(&args)
            .unwrap()
            .into_iter()
            .map(|d| (d.name, d.args))
            .collect()
    }

    fn d(name: &str, args: &[&str]) -> (String, Vec<String>) {
        (
            name.to_string(),
            args.iter().map(|s| s.to_string()).collect(),
        )
    }

    #[test]
    fn redis_server_style() {
        assert_eq!(
            parse(&["--port", "6380", "--save", "", "--bind", "127.0.0.1", "::1"]),
            vec![
                d("port", &["6380"]),
                d("save", &[""]),
                d("bind", &["127.0.0.1", "::1"])
            ]
        );
        assert_eq!(parse(&["--PORT", "1"]), vec![d("port", &["1"])]);
        assert_eq!(
            parse(&["--port 6380", "--hz", "5"]),
            vec![d("port", &["6380"]), d("hz", &["5"])]
        );
        // A value after a bare name may start with "--".
        assert_eq!(
            parse(&["--requirepass", "--x--"]),
            vec![d("requirepass", &["--x--"])]
        );
        // Values are literal: quotes and spaces are kept.
        assert_eq!(
            parse(&["--logfile", "a \"b\""]),
            vec![d("logfile", &["a \"b\""])]
        );
        assert_eq!(parse(&[]), vec![]);
    }

    #[test]
    fn save_without_value_means_empty() {
        assert_eq!(parse(&["--save"]), vec![d("save", &[""])]);
        assert_eq!(
            parse(&["--save", "--port", "1"]),
            vec![d("save", &[""]), d("port", &["1"])]
        );
        assert_eq!(parse(&["--save", "60", "1"]), vec![d("save", &["60", "1"])]);
        // Other names keep waiting for a value.
        assert_eq!(parse(&["--port"]), vec![d("port", &[])]);
    }

    #[test]
    fn errors() {
        let e = parse_args(&["6380".to_string()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "command line: '6380' does not follow a --name"
        );
        let e = parse_args(&["--".to_string()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "command line: missing directive name in '--'"
        );
        let e = parse_args(&["--\"port".to_string()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "command line: unbalanced quotes in '--\"port'"
        );
    }
}

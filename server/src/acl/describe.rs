//! The canonical text of a user (ACL LIST, ACL SAVE, CONFIG REWRITE) and of a selector's
//! command rules (ACL GETUSER): Redis 7.0's `ACLDescribeUser`, `ACLDescribeSelector` and
//! `ACLDescribeSelectorCommandRules`, whose category fit is reproduced step by step.
//! Redis emits the single-command tail in its command dictionary's (seeded hash) order;
//! picket emits it in command id order.

use super::universe::CATEGORIES;
use super::user::{KeyPattern, Sanitize, Selector, User, ALL, READ, WRITE};

/// `sdsCatPatternString`.
pub fn pattern_string(out: &mut Vec<u8>, p: &KeyPattern) {
    out.extend_from_slice(match p.flags {
        ALL => b"~".as_slice(),
        READ => b"%R~",
        WRITE => b"%W~",
        _ => b"~",
    });
    out.extend_from_slice(&p.pattern);
}

/// Commands allowed and denied in a category.
fn count(s: &Selector, cat: u32) -> (usize, usize) {
    let (mut on, mut off) = (0, 0);
    for (id, c) in s.universe.cmds.iter().enumerate() {
        if c.cats & cat != 0 {
            if s.bit(id) {
                on += 1;
            } else {
                off += 1;
            }
        }
    }
    (on, off)
}

/// `ACLDescribeSelectorCommandRules`.
pub fn command_rules(sel: &Selector) -> String {
    let mut rules = String::new();
    let additive = !sel.can_run_future_commands();
    let mut fake = Selector::new_in(false, false, sel.universe);
    if additive {
        rules.push_str("-@all ");
    } else {
        rules.push_str("+@all ");
        // (valid rule)
        let _ = fake.apply(b"+@all");
    }
    let mut temp = sel.clone();
    let mut applied = [false; 21];
    loop {
        let mut best = None;
        let (mut mindiff, mut maxsame) = (usize::MAX, 0);
        for (j, _) in CATEGORIES.iter().enumerate() {
            if applied[j] {
                continue;
            }
            let (on, off) = count(&temp, 1 << j);
            let (diff, same) = if additive { (off, on) } else { (on, off) };
            if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                best = Some(j);
                mindiff = diff;
                maxsame = same;
            }
        }
        let Some(j) = best else { break };
        fake.change_category(1 << j, additive);
        temp.change_category(1 << j, !additive);
        rules.push_str(if additive { "+@" } else { "-@" });
        rules.push_str(CATEGORIES[j]);
        rules.push(' ');
        applied[j] = true;
    }
    // The single commands (and subcommands) that still differ, then first-args.
    let u = sel.universe;
    for (id, c) in u.cmds.iter().enumerate() {
        let userbit = sel.bit(id);
        if userbit != fake.bit(id) {
            rules.push(if userbit { '+' } else { '-' });
            rules.push_str(&c.full_name);
            rules.push(' ');
            fake.change_perm(id, userbit);
        }
        if !userbit {
            if let Some(args) = sel.firstargs.get(&id) {
                for a in args {
                    rules.push('+');
                    rules.push_str(&c.full_name);
                    rules.push('|');
                    rules.push_str(&String::from_utf8_lossy(a));
                    rules.push(' ');
                }
            }
        }
    }
    rules.pop();
    rules
}

/// `ACLDescribeSelector`.
pub fn selector(sel: &Selector) -> Vec<u8> {
    let mut res = Vec::new();
    if sel.allkeys {
        res.extend_from_slice(b"~* ");
    } else {
        for p in &sel.patterns {
            pattern_string(&mut res, p);
            res.push(b' ');
        }
    }
    if sel.allchannels {
        res.extend_from_slice(b"&* ");
    } else {
        res.extend_from_slice(b"resetchannels ");
        for c in &sel.channels {
            res.push(b'&');
            res.extend_from_slice(c);
            res.push(b' ');
        }
    }
    res.extend_from_slice(command_rules(sel).as_bytes());
    res
}

/// The flags of a user as ACL GETUSER and ACL LIST name them, in Redis's order.
pub fn flags(u: &User) -> Vec<&'static str> {
    let mut f = vec![if u.enabled { "on" } else { "off" }];
    if u.nopass {
        f.push("nopass");
    }
    match u.sanitize {
        Sanitize::Skip => f.push("skip-sanitize-payload"),
        Sanitize::Sanitize => f.push("sanitize-payload"),
        Sanitize::Unset => {}
    }
    f
}

/// `ACLDescribeUser`: what follows `user <name> ` in ACL LIST.
pub fn user(u: &User) -> Vec<u8> {
    let mut res = Vec::new();
    for f in flags(u) {
        res.extend_from_slice(f.as_bytes());
        res.push(b' ');
    }
    for p in &u.passwords {
        res.push(b'#');
        res.extend_from_slice(p.as_bytes());
        res.push(b' ');
    }
    for (i, s) in u.selectors.iter().enumerate() {
        if i == 0 {
            res.extend_from_slice(&selector(s));
        } else {
            res.extend_from_slice(b" (");
            res.extend_from_slice(&selector(s));
            res.push(b')');
        }
    }
    res
}

/// GETUSER's `keys` field.
pub fn keys_field(sel: &Selector) -> Vec<u8> {
    if sel.allkeys {
        return b"~*".to_vec();
    }
    let mut out = Vec::new();
    for (i, p) in sel.patterns.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        pattern_string(&mut out, p);
    }
    out
}

/// GETUSER's `channels` field.
pub fn channels_field(sel: &Selector) -> Vec<u8> {
    if sel.allchannels {
        return b"&*".to_vec();
    }
    let mut out = Vec::new();
    for (i, c) in sel.channels.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.push(b'&');
        out.extend_from_slice(c);
    }
    out
}

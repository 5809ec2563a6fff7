//! Whole HA deployments whose every link runs as a least-privilege ACL user, the users of
//! docs/guide.md section 9 as written: the servers with `user default off`, the sentinels'
//! user and the replicas' user (`masteruser` / `masterauth`); the sentinels with
//! `user default off`, `sentinel-peer` for their links to each other (`sentinel
//! sentinel-user` / `sentinel-pass`) and `sentinel auth-user` / `auth-pass` for the servers;
//! the clients logged in as an application user. Each run is checked as the plain
//! scenarios are (ha_scenarios.rs), and no server or sentinel may have refused anything
//! (their ACL logs, read through the harness, are empty) and CLIENT LIST shows every link
//! as its user. A sentinel user lacking the permission a promotion needs is caught by that
//! check, and the failover does not happen. picket's own additions need two more
//! permissions, as the guide says: `+failover` (SENTINEL FAILOVER's hand-over) and
//! `+replfence` (strict failover safety); without them the refusals show.

use picket_sim_tests::ha::{check, run, run_variant, scenario, AclUsers, Settings};
use picket_sim_tests::seeds::sweep;
use picket_sim_tests::tls::sim_certs;

/// The scenario `name` with the guide's ACL users (and TLS if `tls`), checked, plus: writes
/// acknowledged by the final master after the fault, every link logged in as its user.
fn acl_scenario(name: &str, test: &str, seeds: u64, tls: bool) {
    let users = AclUsers::from_guide().expect("the guide's users");
    acl_scenario_with(users, name, test, seeds, tls);
}

fn acl_scenario_with(users: AclUsers, name: &str, test: &str, seeds: u64, tls: bool) {
    let certs = match tls {
        false => None,
        true => match sim_certs() {
            Some(c) => Some(c.to_path_buf()),
            None => return,
        },
    };
    let base = Settings {
        acl: Some(users),
        tls: certs,
        ..Settings::default()
    };
    sweep("ha_acl", test, seeds, |seed| {
        let o = run_variant(seed, name, "with ACL users", &base)?;
        logged_in_as_least_privilege_users(&o.client_lists)
    });
}

/// The final master's and the sentinels' clients as CLIENT LIST shows them: the sentinels'
/// links to the servers as the sentinels' user, their links to each other as
/// `sentinel-peer`, the replicas as the replicas' user, the clients as `app` or `admin`;
/// not one as `default`.
fn logged_in_as_least_privilege_users(lists: &[(String, String)]) -> Result<(), String> {
    if lists.len() != 4 {
        return Err(format!(
            "CLIENT LIST of the master and 3 sentinels, got {lists:?}"
        ));
    }
    for (node, list) in lists {
        let on_sentinel = node.ends_with(":26379");
        let (mut sentinels, mut replicas) = (0, 0);
        for line in list.lines() {
            let field = |k: &str| {
                line.split(' ')
                    .find_map(|f| f.strip_prefix(k)?.strip_prefix('='))
                    .unwrap_or_default()
            };
            let (name, flags, user) = (field("name"), field("flags"), field("user"));
            let want = if name.starts_with("sentinel-") {
                sentinels += 1;
                if on_sentinel {
                    "sentinel-peer"
                } else {
                    "sentinel-user"
                }
            } else if flags.contains('S') {
                replicas += 1;
                "replica-user"
            } else if user == "app" {
                "app"
            } else {
                "admin"
            };
            if user != want {
                return Err(format!(
                    "{node}: a client logged in as {user}, not {want}: {line}"
                ));
            }
        }
        if sentinels == 0 || (!on_sentinel && replicas == 0) {
            return Err(format!(
                "{node}: {sentinels} sentinel links, {replicas} replicas:\n{list}"
            ));
        }
    }
    Ok(())
}

#[test]
fn acl_master_crash_fails_over_with_least_privilege_users() {
    acl_scenario(
        "master-crash",
        "acl_master_crash_fails_over_with_least_privilege_users",
        3,
        false,
    );
}

#[test]
fn acl_master_partitioned_is_replaced_and_demoted_after_the_heal() {
    acl_scenario(
        "master-partitioned",
        "acl_master_partitioned_is_replaced_and_demoted_after_the_heal",
        2,
        false,
    );
}

#[test]
fn acl_and_tls_master_crash_fails_over() {
    acl_scenario(
        "master-crash",
        "acl_and_tls_master_crash_fails_over",
        1,
        true,
    );
}

/// picket's additions need their commands: with `+failover` the sentinels' user lets
/// SENTINEL FAILOVER hand over without losing an acknowledged write (the scenario's
/// promise), with `+replfence` strict failover safety fences the replicas; nothing is
/// refused.
#[test]
fn acl_with_picket_additions_manual_switchover_and_strict_mode() {
    let users = || {
        AclUsers::from_guide()
            .expect("the guide's users")
            .with_sentinel_rules(&["+failover", "+replfence"])
    };
    acl_scenario_with(
        users(),
        "manual-switchover",
        "acl_with_picket_additions_manual_switchover_and_strict_mode",
        2,
        false,
    );
    acl_scenario_with(
        users(),
        "strict-master-isolated",
        "acl_with_picket_additions_manual_switchover_and_strict_mode",
        2,
        false,
    );
}

/// A deployment whose sentinels' user lacks a permission: run scenario `name`, require the
/// failover to happen or not (`fails_over`), and every refusal logged to be the sentinels'
/// `command` on one of `hosts`, refused in `context`; the check must report them.
fn refused(
    users: AclUsers,
    name: &str,
    test: &str,
    fails_over: bool,
    (command, context, hosts): (&str, &str, &[&str]),
) {
    let base = Settings {
        acl: Some(users),
        ..Settings::default()
    };
    sweep("ha_acl", test, 2, |seed| {
        let (s, faults, at, expect) = scenario(name, &base).ok_or("no scenario")?;
        let (o, applied) = run(seed, &s, &faults)?;
        let r = check(seed, &s, at, &expect, &o, &applied);
        let why = || {
            format!(
                "failures: {:?}\n  refusals: {:?}",
                r.failures, o.acl_refusals
            )
        };
        let changed = o.master_changes.len() > 1;
        if changed != fails_over {
            return Err(format!(
                "failover expected: {fails_over}, master changes {:?}\n  {}",
                o.master_changes,
                why()
            ));
        }
        if !fails_over && !r.failures.iter().any(|f| f == "no failover happened") {
            return Err(format!("the missing failover was not reported: {}", why()));
        }
        if o.acl_refusals.is_empty() {
            return Err(format!("no refusal logged: {}", why()));
        }
        let want = format!("command refused '{command}' to 'sentinel-user' ({context}, ");
        for e in &o.acl_refusals {
            let (host, entry) = e.split_once(": ").unwrap_or_default();
            if !hosts.contains(&host) || !entry.starts_with(&want) {
                return Err(format!("unexpected refusal {e}: {}", why()));
            }
        }
        if !r.failures.iter().any(|f| f.contains(" ACL refusals: ")) {
            return Err(format!("the check did not report the refusals: {}", why()));
        }
        Ok(())
    });
}

fn guide_users() -> AclUsers {
    AclUsers::from_guide().expect("the guide's users")
}

/// The sentinels' user without `+slaveof`: a leader is elected, but its promotion (`MULTI`,
/// `SLAVEOF NO ONE`, ...) is refused by the replicas, so no replica becomes master; the
/// check reports the missing failover and the refusals, which name the command and the
/// user.
#[test]
fn a_sentinel_user_without_slaveof_cannot_promote_and_the_check_says_why() {
    refused(
        guide_users().without_sentinel_rule("+slaveof"),
        "master-crash",
        "a_sentinel_user_without_slaveof_cannot_promote_and_the_check_says_why",
        false,
        ("slaveof", "multi", &["s2", "s3"]),
    );
}

/// Redis's documented sentinel user lacks `FAILOVER`: SENTINEL FAILOVER's hand-over is
/// refused by the master (logged), and the sentinels fall back to the classic promotion,
/// as for a master older than Redis 6.2.
#[test]
fn acl_manual_switchover_without_failover_permission_is_refused_and_logged() {
    refused(
        guide_users(),
        "manual-switchover",
        "acl_manual_switchover_without_failover_permission_is_refused_and_logged",
        true,
        ("failover", "toplevel", &["s1"]),
    );
}

/// Without `+replfence` every replica refuses the fence: a strict failover never promotes
/// (docs/failover-safety.md, rule 2), and the refusals say why.
#[test]
fn acl_strict_failover_without_replfence_permission_waits() {
    refused(
        guide_users(),
        "strict-master-isolated",
        "acl_strict_failover_without_replfence_permission_waits",
        false,
        ("replfence", "toplevel", &["s2", "s3"]),
    );
}

use super::*;

fn rates(endpoint: &str, rate: f64) -> FaultRule {
    FaultRule {
        endpoint: endpoint.to_owned(),
        system_error_rate: rate,
        quota_error_rate: rate,
        http_error_rate: rate,
        ..FaultRule::default()
    }
}

fn sequence(faults: &mut Faults, endpoint: &str, calls: usize) -> Vec<Option<Injected>> {
    (0..calls).map(|_| faults.plan(endpoint).fault).collect()
}

fn faults(config: FaultConfig) -> Faults {
    Faults::new(config, 1).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn same_seed_same_faults() {
    let config = FaultConfig {
        seed: Some(99),
        rules: vec![rates("insert", 0.2)],
        ..FaultConfig::default()
    };
    let first = sequence(&mut faults(config.clone()), "insert", 200);
    let second = sequence(&mut faults(config.clone()), "insert", 200);
    assert_eq!(first, second);
    assert!(first.iter().any(Option::is_some));
    assert!(first.iter().any(Option::is_none));
    let other = sequence(
        &mut faults(FaultConfig {
            seed: Some(100),
            ..config
        }),
        "insert",
        200,
    );
    assert_ne!(first, other);
}

#[test]
fn other_endpoints_do_not_shift_a_rule_sequence() {
    let config = FaultConfig {
        seed: Some(5),
        rules: vec![rates("insert", 0.3), rates("getauthdata", 0.3)],
        ..FaultConfig::default()
    };
    let alone = sequence(&mut faults(config.clone()), "insert", 50);
    let mut mixed = faults(config);
    let interleaved: Vec<_> = (0..50)
        .map(|_| {
            mixed.plan("getauthdata");
            mixed.plan("insert").fault
        })
        .collect();
    assert_eq!(alone, interleaved);
}

#[test]
fn the_most_specific_rule_applies() {
    let mut faults = faults(FaultConfig {
        rules: vec![
            FaultRule {
                endpoint: "*".to_owned(),
                latency_ms: 1,
                ..FaultRule::default()
            },
            FaultRule {
                endpoint: "setbizattr".to_owned(),
                latency_ms: 2,
                ..FaultRule::default()
            },
            FaultRule {
                endpoint: "setbizattr.set_contact".to_owned(),
                latency_ms: 3,
                ..FaultRule::default()
            },
        ],
        ..FaultConfig::default()
    });
    assert_eq!(faults.plan("setbizattr.set_contact").latency_ms, 3);
    assert_eq!(faults.plan("setbizattr.get_contact").latency_ms, 2);
    assert_eq!(faults.plan("insert").latency_ms, 1);
}

#[test]
fn scripted_faults_come_first_and_once() {
    let mut faults = faults(FaultConfig {
        script: vec![
            ScriptedFault {
                endpoint: "insert".to_owned(),
                fault: FaultKind::ApplyThenTimeout,
                http_status: None,
                delay_ms: Some(50),
            },
            ScriptedFault {
                endpoint: "platform".to_owned(),
                fault: FaultKind::Http5xx,
                http_status: Some(502),
                delay_ms: None,
            },
        ],
        ..FaultConfig::default()
    });
    assert_eq!(faults.plan("getauthdata").fault, None);
    assert_eq!(
        faults.plan("insert").fault,
        Some(Injected::ApplyThenTimeout { delay_ms: 50 })
    );
    assert_eq!(faults.plan("insert").fault, None);
    assert_eq!(
        faults.plan("platform.setpdf").fault,
        Some(Injected::Http(502))
    );
    assert_eq!(faults.plan("platform.setpdf").fault, None);
    let log: Vec<_> = faults
        .log()
        .iter()
        .map(|f| (f.endpoint.as_str(), f.call, f.fault, f.source))
        .collect();
    assert_eq!(
        log,
        [
            ("insert", 1, FaultKind::ApplyThenTimeout, "script"),
            ("platform.setpdf", 1, FaultKind::Http5xx, "script"),
        ]
    );
    assert!(faults.config().script.is_empty());
}

#[test]
fn invalid_rates_are_refused() {
    assert!(
        Faults::new(
            FaultConfig {
                rules: vec![rates("*", 0.4)],
                ..FaultConfig::default()
            },
            1
        )
        .is_err()
    );
    assert!(
        Faults::new(
            FaultConfig {
                rules: vec![FaultRule {
                    http_status: 404,
                    ..FaultRule::default()
                }],
                ..FaultConfig::default()
            },
            1
        )
        .is_err()
    );
    assert!(
        Faults::new(
            FaultConfig {
                duplicate_push_rate: 2.0,
                ..FaultConfig::default()
            },
            1
        )
        .is_err()
    );
}

#[test]
fn duplicate_pushes_follow_their_rate() {
    let mut never = faults(FaultConfig::default());
    assert!(!(0..100).any(|_| never.duplicate_push()));
    let mut always = faults(FaultConfig {
        duplicate_push_rate: 1.0,
        ..FaultConfig::default()
    });
    assert!((0..100).all(|_| always.duplicate_push()));
}

#[test]
fn delayed_pushes_follow_their_rate() {
    let mut never = faults(FaultConfig::default());
    assert!((0..100).all(|_| never.push_delay().is_none()));
    let config = FaultConfig {
        delayed_push_rate: 0.5,
        push_delay_ms: 1500,
        ..FaultConfig::default()
    };
    let draws: Vec<Option<u64>> = {
        let mut half = faults(config.clone());
        (0..200).map(|_| half.push_delay()).collect()
    };
    let delayed = draws.iter().filter(|d| d.is_some()).count();
    assert!((60..140).contains(&delayed), "{delayed} of 200 delayed");
    assert!(draws.iter().flatten().all(|d| *d == 1500));
    // Seeded: the same configuration delays the same pushes.
    let mut again = faults(config);
    assert_eq!(
        draws,
        (0..200).map(|_| again.push_delay()).collect::<Vec<_>>()
    );
    assert!(
        Faults::new(
            FaultConfig {
                delayed_push_rate: 1.5,
                ..FaultConfig::default()
            },
            1
        )
        .is_err()
    );
}

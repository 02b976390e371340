//! Property tests on hostile input for the BSN parser and the decoder of sealed ids (the opaque
//! ids and Relay cursors the API hands out). `PROPTEST_CASES=100000 cargo test -p model props`
//! runs longer (docs/reliability.md).

use proptest::prelude::*;

use crate::{Bsn, BsnProtector, crypto::generate_key_hex};

/// Cases per property: `default` from a fixed seed (so `cargo test` is repeatable), or
/// `PROPTEST_CASES` from a random one (`PROPTEST_RNG_SEED` repeats such a run).
fn cases(default: u32) -> ProptestConfig {
    let long = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok());
    let config = ProptestConfig::default();
    ProptestConfig {
        cases: long.unwrap_or(default),
        rng_seed: match long {
            Some(_) => config.rng_seed,
            None => proptest::test_runner::RngSeed::Fixed(6),
        },
        failure_persistence: None,
        ..config
    }
}

/// Nine digits passing the eleven-test, built from eight random ones.
fn valid_bsn() -> impl Strategy<Value = String> {
    proptest::collection::vec(0u32..10, 8).prop_filter_map("a check digit below 10", |d| {
        let sum: u32 = d.iter().enumerate().map(|(i, v)| (9 - i as u32) * v).sum();
        let check = sum % 11;
        (check < 10 && !(d.iter().all(|x| *x == 0) && check == 0)).then(|| {
            d.iter()
                .chain(std::iter::once(&check))
                .map(|v| char::from_digit(*v, 10).unwrap())
                .collect()
        })
    })
}

fn protector() -> BsnProtector {
    BsnProtector::from_hex(&generate_key_hex(), &generate_key_hex()).unwrap()
}

proptest! {
    #![proptest_config(cases(5000))]

    #[test]
    fn bsn_parse_takes_any_text(raw in prop_oneof![any::<String>(), "[0-9 .-]{0,14}(\\.0)?"]) {
        if let Ok(bsn) = Bsn::parse(&raw) {
            let digits = bsn.expose();
            prop_assert_eq!(digits.len(), 9);
            prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(Bsn::parse(&digits).unwrap(), bsn.clone());
            prop_assert!(!format!("{bsn:?}").contains(&digits[..6]), "Debug masks it");
        }
    }

    #[test]
    fn a_valid_bsn_survives_spreadsheet_spellings(bsn in valid_bsn(), spelling in 0..4usize) {
        let written = match spelling {
            // A number column drops leading zeros.
            0 => bsn.trim_start_matches('0').to_owned(),
            1 => format!("{}.{}.{}", &bsn[..4], &bsn[4..6], &bsn[6..]),
            2 => format!(" {bsn} "),
            _ => format!("{}.0", bsn.trim_start_matches('0')),
        };
        let parsed = Bsn::parse(&written);
        // A BSN with more than two leading zeros is too short once a spreadsheet dropped them.
        if written.trim().trim_end_matches(".0").len() >= 7 {
            prop_assert_eq!(parsed.map(|b| b.expose()), Ok(bsn));
        }
    }
}

proptest! {
    #![proptest_config(cases(2000))]

    /// The decoder behind `after` cursors and sealed ids: anything a client sends is either a
    /// value sealed for that audience or `None`, never a panic or someone else's row.
    #[test]
    fn sealed_ids_open_only_unchanged_and_for_their_audience(
        id in any::<i64>(),
        garbage in prop_oneof![any::<String>(), "[A-Za-z0-9_-]{0,64}"],
        at in any::<usize>(),
        with in "[A-Za-z0-9_=+/-]",
    ) {
        let p = protector();
        let sealed = p.seal_id("partner-a", id);
        prop_assert_eq!(p.open_id("partner-a", &sealed), Some(id));
        prop_assert_eq!(p.open_id("partner-b", &sealed), None);
        let _ = p.open_id("partner-a", &garbage);
        // One character changed, removed or added.
        let i = at % sealed.len();
        let mut changed = sealed.clone();
        changed.replace_range(i..=i, &with);
        if changed != sealed {
            prop_assert_eq!(p.open_id("partner-a", &changed), None);
        }
        let mut shorter = sealed.clone();
        shorter.remove(i);
        prop_assert_eq!(p.open_id("partner-a", &shorter), None);
        prop_assert_eq!(p.open_id("partner-a", &format!("{sealed}{with}")), None);
    }
}

//! docs/protocol.md §2's "one home per rule" table is true: it names
//! exactly the functions listed here, and each of them exists (this file
//! names every one in code, so it does not compile if one is renamed or
//! removed). A rule that moves changes the table, this list and nothing
//! else.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use upow_runtime::Runtime;

/// Names `$path` as the doc writes it and `$item` in code (`$item` must
/// exist for this file to compile).
macro_rules! rule {
    ($path:literal => $item:expr) => {{
        let _exists = $item;
        $path
    }};
}

/// Every rule's home, as the table names it.
fn homes() -> BTreeSet<&'static str> {
    type Training = pallet_upow_training::Pallet<Runtime>;
    type Staking = pallet_upow_staking::Pallet<Runtime>;
    type Rewards = pallet_upow_rewards::Pallet<Runtime>;
    type Job = pallet_upow_jobs::JobOf<Runtime>;
    type Jobs = pallet_upow_jobs::Pallet<Runtime>;
    [
        rule!("upow_primitives::PreDigest::find" => upow_primitives::PreDigest::find),
        rule!("upow_primitives::seal::split_seal" => upow_primitives::seal::split_seal::<upow_primitives::Header>),
        rule!("upow_primitives::PowSeal::message" => upow_primitives::PowSeal::message),
        rule!("upow_primitives::seal::check_signature" => upow_primitives::seal::check_signature),
        rule!("upow_primitives::PreDigest::verify_submission" => upow_primitives::PreDigest::verify_submission),
        rule!("upow_primitives::seal::check_ticket" => upow_primitives::seal::check_ticket),
        rule!("upow_puzzle::validate_claim_bounds" => upow_puzzle::validate_claim_bounds),
        rule!("upow_puzzle::Seed::derive" => upow_puzzle::Seed::derive),
        rule!("upow_puzzle::Ticket::derive" => upow_puzzle::Ticket::derive),
        rule!("upow_puzzle::max_steps" => upow_puzzle::max_steps),
        rule!("upow_puzzle::challenged_steps" => upow_puzzle::challenged_steps),
        rule!("upow_puzzle::cost::step_macs" => upow_puzzle::cost::step_macs),
        rule!("upow_puzzle::cost::replay_macs" => upow_puzzle::cost::replay_macs),
        rule!("upow_puzzle::cost::nominal_cost" => upow_puzzle::cost::nominal_cost),
        rule!("pallet_upow_jobs::Pallet::listed_cost" => Jobs::listed_cost),
        rule!("upow_puzzle::JobSpec::listing_key" => upow_puzzle::JobSpec::listing_key),
        rule!("upow_puzzle::job_difficulty" => upow_puzzle::job_difficulty),
        rule!("upow_puzzle::dataset::check_label" => upow_puzzle::dataset::check_label),
        rule!("upow_puzzle::execute_step" => upow_puzzle::execute_step),
        rule!("upow_puzzle::validate_step" => upow_puzzle::validate_step),
        rule!("upow_puzzle::validate_segments" => upow_puzzle::validate_segments),
        rule!("upow_puzzle::verify_trajectory" => upow_puzzle::verify_trajectory),
        rule!("pallet_upow_training::Pallet::submit_trajectory" => Training::submit_trajectory),
        rule!("upow_puzzle::verify_fraud" => upow_puzzle::verify_fraud),
        rule!("pallet_upow_training::Pallet::report_fraud" => Training::report_fraud),
        rule!("pallet_upow_training::split_slash" =>
            pallet_upow_training::split_slash::<upow_runtime::AccountId>),
        rule!("pallet_upow_rewards::Pallet::do_claw_back" => Rewards::do_claw_back),
        rule!("upow_puzzle::JobSpec::validate" => upow_puzzle::JobSpec::validate),
        rule!("upow_runtime::configs::JobLimits::check" =>
            <upow_runtime::configs::JobLimits as upow_primitives::traits::JobLimits>::check),
        rule!("pallet_upow_staking::Pallet::account_of_author" => Staking::account_of_author),
        rule!("pallet_upow_jobs::Job::payment_for" => Job::payment_for),
        rule!("pallet_upow_rewards::Pallet::split" => Rewards::split),
        rule!("upow_runtime::apis::block_payment" => upow_runtime::apis::block_payment),
        rule!("pallet_upow_jobs::Job::target_reached" => Job::target_reached),
        rule!("pallet_upow_training::difficulty::next_difficulty" =>
            pallet_upow_training::difficulty::next_difficulty),
        rule!("upow_primitives::signing::SigningRecord::permit" =>
            upow_primitives::signing::SigningRecord::permit),
        rule!("upow_puzzle::mining::TrajectoryMiner::step" =>
            upow_puzzle::mining::TrajectoryMiner::step::<upow_puzzle::mining::ReferenceBackend>),
    ]
    .into_iter()
    .collect()
}

/// The functions docs/protocol.md's rule table names: every backticked
/// path in its second column, between the `rules:begin`/`rules:end` marks.
fn table() -> BTreeSet<String> {
    let doc = include_str!("../../docs/protocol.md");
    let start = doc
        .find("<!-- rules:begin -->")
        .expect("the table's begin mark");
    let end = doc
        .find("<!-- rules:end -->")
        .expect("the table's end mark");
    let mut names = BTreeSet::new();
    for row in doc[start..end]
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(2)
    {
        let cells: Vec<&str> = row.split('|').collect();
        assert!(cells.len() >= 4, "a row with two cells: {row}");
        for (i, part) in cells[2].split('`').enumerate() {
            if i % 2 == 1 {
                names.insert(part.to_string());
            }
        }
    }
    names
}

#[test]
fn the_rule_table_names_exactly_the_functions_that_hold_the_rules() {
    let listed: BTreeSet<String> = homes().into_iter().map(String::from).collect();
    let documented = table();
    assert!(
        documented.len() >= 25,
        "the table lost rows: {documented:?}"
    );
    let missing: Vec<_> = listed.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&listed).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "rules in code but not in the table: {missing:?}; in the table but not in code: {unknown:?}"
    );
}

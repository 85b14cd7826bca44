//! Genesis: the house job, paid jobs posted at genesis, the expiry period,
//! and the readable genesis spec (its JSON form as documented, its round
//! trip).

use super::*;

#[test]
fn genesis_sets_up_the_house_job() {
    new_test_ext().execute_with(|| {
        assert_eq!(HouseJob::<Test>::get(), Some(0));
        assert_eq!(NextJobId::<Test>::get(), 1);
        assert!(Open::<Test>::get().is_empty());
        assert_eq!(Expiry::<Test>::get(), EXPIRY);
        let house = job(0);
        assert_eq!(house.poster, HOUSE_POSTER);
        assert_eq!(house.spec, house_spec());
        let initial = house
            .initial
            .expect("the house job's initial weights are genesis's");
        assert_eq!(initial.seed, [42; 32]);
        assert_eq!(house.status, JobStatus::Open);
        assert_eq!(
            (house.price_per_step, house.budget_left, house.deposit),
            (0, 0, 0)
        );
        assert_eq!(
            initial.weights,
            upow_puzzle::Weights::initial(&house_spec().model, &[42; 32]).hash()
        );
        let open = <UpowJobs as JobSchedule<u64>>::open();
        assert_eq!(open.len(), 1);
        assert_eq!(
            (
                open[0].id,
                &open[0].spec,
                open[0].init_seed,
                open[0].price_per_step
            ),
            (0, &house_spec(), [42; 32], 0)
        );
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn without_house_job_only_paid_jobs_are_open() {
    ExtBuilder::default().no_house().build().execute_with(|| {
        assert_eq!(HouseJob::<Test>::get(), None);
        assert!(<UpowJobs as JobSchedule<u64>>::open().is_empty());
        let id = post(1, 10, 5, 100);
        assert_eq!(id, 0);
        assert_eq!(open_ids(), vec![0]);
        // Completing it leaves nothing to train.
        progress(id, 5, 10);
        assert_eq!(job(id).status, JobStatus::Completed);
        assert!(<UpowJobs as JobSchedule<u64>>::open().is_empty());
        assert_eq!(
            events().last(),
            Some(&Event::JobCompleted {
                job: id,
                steps: 10,
                refund: 50
            })
        );
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn genesis_paid_jobs_are_posted_and_escrowed() {
    ExtBuilder::default()
        .job(1, 10, 5, 100)
        .job(2, 10, 7, 70)
        .job(3, 10, 7, 90)
        .build()
        .execute_with(|| {
            assert_eq!(Open::<Test>::get().into_inner(), vec![2, 3, 1]);
            // In the market, but not trainable before block 1 draws their
            // initial weights.
            assert_eq!(open_ids(), vec![0]);
            assert_eq!((held(1), held(2), held(3)), (100, 70, 90));
            assert_eq!(deposits(1), DEPOSIT);
            assert_eq!(free(1), ENDOWMENT - 100 - DEPOSIT);
            // Block 1's sealing ticket draws their initial weights.
            assert_eq!(
                AwaitingInitialWeights::<Test>::get().into_inner(),
                vec![1, 2, 3]
            );
            assert!(job(1).initial.is_none());
            assert_ok!(UpowJobs::do_try_state());
            draw_initial_weights();
            let initial = job(1).initial.expect("drawn");
            assert_eq!(
                initial.seed,
                upow_puzzle::lane::run_seed(1, &SEALING_TICKET)
            );
            assert_eq!(open_ids(), vec![2, 3, 1, 0]);
            assert_ok!(UpowJobs::do_try_state());
        });
}

#[test]
#[should_panic(expected = "genesis job rejected")]
fn genesis_rejects_an_unfunded_job() {
    ExtBuilder::default().job(HOUSE_POSTER, 10, 5, 100).build();
}

#[test]
fn genesis_sets_the_expiry_period() {
    ExtBuilder::default().expiry(3).build().execute_with(|| {
        assert_eq!(Expiry::<Test>::get(), 3);
    });
}

#[test]
#[should_panic(expected = "a zero expiry period in genesis")]
fn genesis_rejects_a_zero_expiry() {
    ExtBuilder::default().expiry(0).build();
}

#[test]
fn genesis_spec_roundtrips() {
    let spec = spec(77);
    let genesis = GenesisJobSpec::from(&spec);
    assert_eq!(genesis.to_spec(), Ok(spec));
    let mut bad = genesis.clone();
    bad.inputs = 5;
    assert!(bad.to_spec().is_err());
    let mut bad = genesis;
    bad.dims = vec![2000, 10];
    assert!(bad.to_spec().is_err());
}

#[test]
fn genesis_config_reads_the_documented_json() {
    let json = r#"{
        "houseJob": {
            "poster": 100,
            "spec": {
                "dims": [784, 128, 10], "batchLog2": 6, "lrShift": 2, "totalSteps": 1000000,
                "datasetRoot": "0x0707070707070707070707070707070707070707070707070707070707070707",
                "samples": 60000, "inputs": 784
            },
            "initSeed": "0x2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a"
        },
        "workloads": [{
            "spec": {
                "dims": [4, 8, 3], "batchLog2": 4, "lrShift": 2, "totalSteps": 10,
                "datasetRoot": "0x0707070707070707070707070707070707070707070707070707070707070707",
                "samples": 16, "inputs": 4
            },
            "cost": 16,
            "maxLabel": 2,
            "minNonzeroPer1024": 512,
            "minLivePer1024": 32,
            "minActivePer1024": 0
        }],
        "jobs": [{
            "poster": 1,
            "spec": {
                "dims": [4, 8, 3], "batchLog2": 4, "lrShift": 2, "totalSteps": 10,
                "datasetRoot": "0x0707070707070707070707070707070707070707070707070707070707070707",
                "samples": 16, "inputs": 4
            },
            "pricePerStep": 5, "budget": 100, "targetLoss": null
        }],
        "expiry": 150
    }"#;
    let config: crate::GenesisConfig<Test> = serde_json::from_str(json).expect("parses");
    let house = config.house_job.as_ref().expect("house job");
    let spec = house.spec.to_spec().expect("valid spec");
    assert_eq!(spec.model.dims(), &[784, 128, 10]);
    assert_eq!(
        (spec.hyper.batch(), spec.hyper.total_steps()),
        (64, 1_000_000)
    );
    assert_eq!(
        spec.dataset,
        DatasetCommitment {
            root: [7; 32],
            samples: 60_000,
            inputs: 784
        }
    );
    assert_eq!(house.init_seed.0, [42; 32]);
    assert_eq!(config.expiry, Some(150));
    assert_eq!(
        (config.workloads[0].cost, config.workloads[0].max_label),
        (16, 2)
    );
    // It round-trips, and unknown fields are rejected.
    let again: crate::GenesisConfig<Test> =
        serde_json::from_str(&serde_json::to_string(&config).expect("serialises")).expect("parses");
    assert_eq!(again.jobs[0].spec, config.jobs[0].spec);
    assert!(serde_json::from_str::<crate::GenesisConfig<Test>>(
        r#"{"houseJob": null, "workloads": [], "jobs": [], "expiry": null, "x": 1}"#
    )
    .is_err());
    // And builds.
    let mut storage = frame_system::GenesisConfig::<Test>::default()
        .build_storage()
        .expect("system");
    pallet_balances::GenesisConfig::<Test> {
        balances: vec![(1, ENDOWMENT)],
        ..Default::default()
    }
    .assimilate_storage(&mut storage)
    .expect("balances");
    config.assimilate_storage(&mut storage).expect("jobs");
    sp_io::TestExternalities::new(storage).execute_with(|| {
        assert_eq!(HouseJob::<Test>::get(), Some(0));
        assert_eq!(Open::<Test>::get().into_inner(), vec![1]);
        assert_eq!(Expiry::<Test>::get(), 150);
        assert_eq!(held(1), 100);
        assert_eq!(job(1).spec, crate::mock::spec(10));
        // The house job's spec is workload 0 at the reference cost, the
        // listed one workload 1 at its stated cost.
        let listed = |spec: &JobSpec| {
            UpowJobs::listed_workload(spec).map(|(id, w)| (id, w.cost, w.liveness))
        };
        assert_eq!(
            listed(&job(0).spec),
            Some((
                0,
                upow_puzzle::REFERENCE_COST,
                upow_puzzle::REFERENCE_LIVENESS
            ))
        );
        assert_eq!(
            listed(&crate::mock::spec(10)),
            Some((1, 16, upow_puzzle::Liveness::MINIMUM))
        );
        assert_ok!(UpowJobs::do_try_state());
    });
}

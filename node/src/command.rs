//! Dispatches the command line.

use sc_cli::SubstrateCli;
use sc_service::PartialComponents;
use upow_runtime::opaque::Block;

use crate::{
    cli::{Cli, Subcommand},
    service,
};

impl SubstrateCli for Cli {
    fn impl_name() -> String {
        "upow node".into()
    }

    fn impl_version() -> String {
        env!("SUBSTRATE_CLI_IMPL_VERSION").into()
    }

    fn description() -> String {
        env!("CARGO_PKG_DESCRIPTION").into()
    }

    fn author() -> String {
        env!("CARGO_PKG_AUTHORS").into()
    }

    fn support_url() -> String {
        "https://example.invalid/upow/issues".into()
    }

    fn copyright_start_year() -> i32 {
        2026
    }

    fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
        upow_chain_spec::load(id)
    }
}

/// Whether the command line names a transaction pool type.
fn pool_type_given() -> bool {
    std::env::args_os().any(|arg| {
        arg.to_str()
            .is_some_and(|a| a == "--pool-type" || a.starts_with("--pool-type="))
    })
}

/// Parses and runs the command line.
pub fn run() -> sc_cli::Result<()> {
    let mut cli = Cli::from_args();
    // The single-state transaction pool unless `--pool-type` says otherwise:
    // under a burst of transactions the fork-aware pool (Substrate's
    // default) enforces its future-queue limit (a tenth of `--pool-limit`)
    // on each new block's view, and drops a transaction with every later
    // one of its sender: 2/3 of a 3 020-transaction flood vanished from the
    // pool in 4 of 7 runs (docs/reliability.md §Load).
    if !pool_type_given() {
        cli.run.pool_config.pool_type = sc_cli::TransactionPoolType::SingleState;
    }

    match &cli.subcommand {
        Some(Subcommand::Key(cmd)) => cmd.run(&cli),
        Some(Subcommand::BuildSpec(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.sync_run(|config| cmd.run(config.chain_spec, config.network))
        }
        Some(Subcommand::CheckBlock(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.async_run(|config| {
                let PartialComponents {
                    client,
                    task_manager,
                    import_queue,
                    ..
                } = service::new_partial(&config)?;
                Ok((cmd.run(client, import_queue), task_manager))
            })
        }
        Some(Subcommand::ExportBlocks(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.async_run(|config| {
                let PartialComponents {
                    client,
                    task_manager,
                    ..
                } = service::new_partial(&config)?;
                Ok((cmd.run(client, config.database), task_manager))
            })
        }
        Some(Subcommand::ExportState(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.async_run(|config| {
                let PartialComponents {
                    client,
                    task_manager,
                    ..
                } = service::new_partial(&config)?;
                Ok((cmd.run(client, config.chain_spec), task_manager))
            })
        }
        Some(Subcommand::ImportBlocks(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.async_run(|config| {
                let PartialComponents {
                    client,
                    task_manager,
                    import_queue,
                    ..
                } = service::new_partial(&config)?;
                Ok((cmd.run(client, import_queue), task_manager))
            })
        }
        Some(Subcommand::PurgeChain(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.sync_run(|config| cmd.run(config.database))
        }
        Some(Subcommand::Revert(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.async_run(|config| {
                let PartialComponents {
                    client,
                    task_manager,
                    backend,
                    ..
                } = service::new_partial(&config)?;
                let aux_revert = Box::new(|client, _, blocks| {
                    sc_consensus_grandpa::revert(client, blocks)?;
                    Ok(())
                });
                Ok((cmd.run(client, backend, Some(aux_revert)), task_manager))
            })
        }
        #[cfg(feature = "runtime-benchmarks")]
        Some(Subcommand::Benchmark(cmd)) => {
            use frame_benchmarking_cli::BenchmarkCmd;
            let runner = cli.create_runner(cmd)?;
            runner.sync_run(|config| match cmd {
                BenchmarkCmd::Pallet(cmd) => cmd
                    .run_with_spec::<sp_runtime::traits::HashingFor<Block>, ()>(Some(
                        config.chain_spec,
                    )),
                _ => Err("only `benchmark pallet` is supported".into()),
            })
        }
        Some(Subcommand::TryUpgrade(cmd)) => {
            sc_cli::LoggerBuilder::new("").init()?;
            cmd.run()
                .map(|_| ())
                .map_err(|e| sc_cli::Error::Application(Box::new(e)))
        }
        Some(Subcommand::ChainInfo(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.sync_run(|config| cmd.run::<Block>(&config))
        }
        None => {
            let runner = cli.create_runner(&cli.run)?;
            let params = cli.upow.clone();
            runner.run_node_until_exit(|config| async move {
                match config.network.network_backend {
                    sc_network::config::NetworkBackendType::Libp2p => {
                        service::new_full::<
                            sc_network::NetworkWorker<
                                Block,
                                <Block as sp_runtime::traits::Block>::Hash,
                            >,
                        >(config, params)
                        .map_err(sc_cli::Error::Service)
                    }
                    sc_network::config::NetworkBackendType::Litep2p => {
                        service::new_full::<sc_network::Litep2pNetworkBackend>(config, params)
                            .map_err(sc_cli::Error::Service)
                    }
                }
            })
        }
    }
}

//! `millwright-admin`: what operators do outside the public API — provision a local stack's
//! storage from infra/template.yaml, open accounts on whatever AWS the environment names, and
//! render the OpenAPI document the API serves.

mod openapi;

use clap::{Parser, Subcommand};
use millwright_aws::{
    config::{Backends, Config, aws_config},
    provision,
};
use std::{path::PathBuf, process::ExitCode};

#[derive(Parser)]
#[command(about = "Millwright operator commands")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the template's tables, queues and schedule groups on the AWS endpoint and print the
    /// functions' environment.
    Provision {
        /// The SAM template.
        #[arg(long, default_value = "infra/template.yaml")]
        template: PathBuf,
        /// The stack name the resources are named after.
        #[arg(long, default_value = "millwright-local")]
        stack: String,
        /// Also write the functions' SQS event sources here, one `QUEUE_URL=function` per line.
        #[arg(long)]
        sources: Option<PathBuf>,
        /// Also write the functions here (JSON: binary, timeout, memory, HTTP API routes), for
        /// the local Lambda service and API Gateway.
        #[arg(long)]
        functions: Option<PathBuf>,
    },
    /// Print the OpenAPI document the API serves (for SDK generators, without a running stack).
    Openapi,
    /// Accounts.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Open an account and print its key (tables from ACCOUNTS_TABLE, TOKENS_TABLE, …).
    Create {
        /// Credits in the pool.
        #[arg(long, default_value_t = 20)]
        credits: u32,
        /// Use this account key instead of issuing one.
        #[arg(long)]
        key: Option<String>,
    },
    /// Set the requests each of an account's credentials may make per 10-second window.
    Limit {
        /// The account (`acct_…`).
        #[arg(long)]
        account: String,
        /// Requests per window; omit to restore the defaults.
        #[arg(long)]
        requests: Option<u32>,
    },
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Provision { template, stack, sources, functions } => {
            let text = std::fs::read_to_string(&template).map_err(|e| format!("{}: {e}", template.display()))?;
            let parsed = provision::parse(&text).map_err(|e| e.to_string())?;
            let aws = aws_config().await;
            let made = provision::provision(&aws, &parsed, &stack).await.map_err(|e| e.to_string())?;
            for (k, v) in made.env {
                println!("{k}={v}");
            }
            if let Some(path) = sources {
                let lines: String =
                    made.sources.iter().map(|(queue, function)| format!("{queue}={function}\n")).collect();
                std::fs::write(&path, lines).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            if let Some(path) = functions {
                let specs = provision::functions(&parsed).map_err(|e| e.to_string())?;
                let json = serde_json::json!({ "functions": specs }).to_string();
                std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Ok(())
        }
        Command::Openapi => {
            println!("{:#}", openapi::document());
            Ok(())
        }
        Command::Account { command: AccountCommand::Limit { account, requests } } => {
            let config = Config::from_env().map_err(|e| e.to_string())?;
            let backends = Backends::new(config).await;
            millwright::accounts::set_rate_limit(backends.store().as_ref(), &account, requests)
                .await
                .map_err(|e| e.message)?;
            match requests {
                Some(n) => eprintln!("{account}: {n} requests per credential per window"),
                None => eprintln!("{account}: the default rate limits"),
            }
            Ok(())
        }
        Command::Account { command: AccountCommand::Create { credits, key } } => {
            let config = Config::from_env().map_err(|e| e.to_string())?;
            let backends = Backends::new(config).await;
            let (account, key) =
                millwright::accounts::open(backends.store().as_ref(), credits, key).await.map_err(|e| {
                    format!(
                        "{}: {}",
                        e.message,
                        e.details.iter().map(|d| d.message.as_str()).collect::<Vec<_>>().join("; ")
                    )
                })?;
            eprintln!("opened {} with {credits} credits", account.id);
            println!("{key}");
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("millwright-admin: {e}");
            ExitCode::FAILURE
        }
    }
}

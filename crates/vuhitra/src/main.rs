//! The `vuhitra` binary: parses the command line, loads configuration once,
//! runs one command, and maps any error to a message, a hint and an exit code.

mod app;
mod cli;
mod commands;
mod exit;
mod output;
mod progress;
mod services;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The sandbox helper: confine, then exec the command. It runs before
    // anything else (no configuration, no threads), see vuhitra-sandbox.
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("__sandbox-exec") {
        let command = raw.iter().skip(2).skip_while(|a| *a == "--").cloned().collect::<Vec<_>>();
        let Some((program, args)) = command.split_first() else { return ExitCode::from(2) };
        return ExitCode::from(vuhitra_sandbox::confine::helper_main(program, args) as u8);
    }
    let cli = cli::Cli::parse();
    // Commands that analyse a prompt: its tables build on another thread
    // while configuration loads and the store opens.
    if matches!(cli.command, cli::Command::Chat(_) | cli::Command::Dev(_) | cli::Command::Nlp { .. }) {
        vuhitra_nlp::warm_up();
    }
    let json = cli.json;
    output::set_json(json);
    match run(cli) {
        // `vuhitra … | head`: the reader leaving is a normal end.
        _ if output::stdout_closed() => ExitCode::SUCCESS,
        Ok(status) => status.exit_code(),
        Err(err) => exit::report(&err, json),
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<exit::Status> {
    use cli::{Command, ConfigCommand};
    use exit::{done, Status};
    // Completions and the config inspectors must work even when the
    // configuration itself is broken: they are how a user repairs it.
    match &cli.command {
        Command::Completions { shell } => return done(commands::completions::run(*shell)),
        // Like --version, it must work whatever the configuration says.
        Command::Version => return done(commands::info::version(cli.json)),
        Command::Config(ConfigCommand::Show) => return done(commands::config::show(&app::sources(&cli), cli.json)),
        Command::Config(ConfigCommand::Init { force, path }) => {
            return done(commands::config::init(path, *force, cli.json))
        }
        Command::Config(ConfigCommand::Validate { services: false }) => {
            return commands::config::validate(&app::sources(&cli), cli.json)
        }
        _ => {}
    }
    let app = app::App::load(&cli)?;
    commands::files::remove_expired(&app);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    match cli.command {
        Command::Chat(args) => commands::chat::run(&app, &rt, args),
        Command::Models(cmd) => done(rt.block_on(commands::models::run(&app, cmd, &app.cancel_token(rt.handle())))),
        Command::Sessions(cmd) => done(commands::sessions::run(&app, cmd)),
        Command::Config(ConfigCommand::Validate { services: true }) => {
            match commands::config::validate(&app::sources(&cli), cli.json)? {
                Status::Success => rt.block_on(commands::doctor::run(&app, true)),
                failed => Ok(failed),
            }
        }
        Command::Dev(args) => commands::dev::run(&app, &rt, args),
        Command::Analyze(args) => rt.block_on(commands::data::analyze(&app, args)),
        Command::Sql(args) => done(rt.block_on(commands::data::sql(&app, args))),
        Command::Mcp(args) => rt.block_on(commands::mcp::run(&app, args, &app.cancel_token(rt.handle()))),
        Command::Data(cmd) => done(rt.block_on(commands::data::frames_command(&app, cmd))),
        Command::Rag(cmd) => commands::rag::run(&app, &rt, cmd),
        Command::Upload(args) => done(commands::files::upload(&app, args)),
        Command::Files(cmd) => done(commands::files::run(&app, cmd)),
        Command::Run(args) => rt.block_on(commands::run::run(&app, args, &app.cancel_token(rt.handle()))),
        Command::Rate(args) => done(rt.block_on(commands::rate::run(&app, args))),
        Command::Heuristics(cmd) => done(rt.block_on(commands::heuristics::run(&app, cmd))),
        Command::Cache(cmd) => done(rt.block_on(commands::cache::run(&app, cmd))),
        Command::Info => done(commands::info::run(&app)),
        Command::Version => unreachable!("answered before the configuration is loaded"),
        Command::Nlp { text } => done(commands::nlp::run(&app, &text)),
        Command::Doctor => rt.block_on(commands::doctor::run(&app, false)),
        Command::Completions { .. } | Command::Config(_) => unreachable!("handled above"),
    }
}

//! `fine-tune-emulator [--port N] [--api-key K] [--job-duration-ms N] [--organization ORG] [--state-dir DIR]`:
//! serves the emulator on 127.0.0.1 until Ctrl-C.

use fine_tune_emulator::{Emulator, EmulatorOptions};

fn usage() -> ! {
    eprintln!("usage: fine-tune-emulator [--port N] [--api-key K] [--job-duration-ms N] [--organization ORG] [--state-dir DIR]");
    std::process::exit(2)
}

fn parse_args() -> EmulatorOptions {
    let mut options = EmulatorOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        if name == "--help" || name == "-h" {
            usage();
        }
        let value = inline.or_else(|| args.next()).unwrap_or_else(|| usage());
        match name.as_str() {
            "--port" => options.port = Some(value.parse().unwrap_or_else(|_| usage())),
            "--api-key" => options.api_key = Some(value),
            "--job-duration-ms" => {
                options.job_duration_ms = Some(value.parse().unwrap_or_else(|_| usage()))
            }
            "--organization" => options.organization = Some(value),
            "--state-dir" => options.state_dir = Some(value.into()),
            _ => usage(),
        }
    }
    options
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let emulator = Emulator::start(parse_args()).await?;
    println!("OPENAI_BASE_URL={}", emulator.url());
    println!("OPENAI_API_KEY={}", emulator.api_key());
    tokio::signal::ctrl_c().await?;
    emulator.close().await;
    Ok(())
}

//! The tour's sample service `carts` as a standalone program.
//!
//! ```text
//! cargo run -p keptn-examples --example carts -- --port 8080 --version 0.11.3
//! UNLEASH_URL=http://127.0.0.1:4242/api UNLEASH_CLIENT_TOKEN=default:production.xyz \
//!   cargo run -p keptn-examples --example carts -- --version 0.11.1
//! ```
//!
//! Endpoints and behaviour: see `keptn_examples::carts` (`GET /`, `/health`, `/carts/{id}`,
//! `POST /carts/{id}/items`; 0.11.2 is 1 s slower; flags EnableItemCache and EnablePromotion
//! from an Unleash-compatible client endpoint). Stops on SIGTERM or Ctrl-C.

use clap::Parser;
use keptn_examples::carts::{CartsConfig, serve, serve_db};

/// The carts sample service.
#[derive(Debug, Parser)]
struct Args {
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Version to behave as: 0.11.1, 0.11.2 (1 s slowdown) or 0.11.3.
    #[arg(long, default_value = "0.11.1")]
    version: String,
    /// Run as the stand-in carts-db instead.
    #[arg(long)]
    db: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.db {
        return serve_db(args.port, args.version).await;
    }
    eprintln!(
        "carts {} listening on http://127.0.0.1:{}",
        args.version, args.port
    );
    serve(CartsConfig::from_env(args.port, args.version)).await
}

//! The tour's sample service `carts` as a standalone program.
//!
//! ```text
//! cargo run -p keptn-examples --example carts -- --port 8080 --version 0.11.3
//! carts --listen 0.0.0.0 --port 8080 --version 0.11.2   # in a container (scripts/kube-node.sh images)
//! UNLEASH_URL=http://127.0.0.1:4242/api UNLEASH_CLIENT_TOKEN=default:production.xyz \
//!   cargo run -p keptn-examples --example carts -- --version 0.11.1
//! ```
//!
//! Endpoints and behaviour: see `keptn_examples::carts` (`GET /`, `/health`, `/carts/{id}`,
//! `POST /carts/{id}/items`; 0.11.2 is 1 s slower; flags EnableItemCache and EnablePromotion
//! from an Unleash-compatible client endpoint). Stops on SIGTERM or Ctrl-C.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use clap::Parser;
use keptn_examples::carts::{CartsConfig, serve, serve_db_at};

/// The carts sample service.
#[derive(Debug, Parser)]
struct Args {
    /// Port to listen on.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on (`0.0.0.0` in a container).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    listen: IpAddr,
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
        return serve_db_at(SocketAddr::new(args.listen, args.port), args.version).await;
    }
    eprintln!(
        "carts {} listening on http://{}",
        args.version,
        SocketAddr::new(args.listen, args.port)
    );
    let mut config = CartsConfig::from_env(args.port, args.version);
    config.listen = args.listen;
    serve(config).await
}

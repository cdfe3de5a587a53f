//! Running the handler: one thread (`holdup-http`) with a current-thread tokio runtime that
//! accepts connections and speaks HTTP/1 through hyper, and tokio's blocking pool (threads
//! `holdup-http-worker`, at most one per concurrent request) for the CPU work of snapshots,
//! symbolization and encoding. None of it uses holdup's primitives, so serving profiles never
//! shows up in them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::body::Body;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::handler::{self, Action};
use super::{Config, Error, ErrorKind};

/// A running `/debug/pprof/` server. Dropping it shuts it down like [`Server::shutdown`];
/// [`Server::detach`] keeps it serving for the rest of the process.
#[derive(Debug)]
#[must_use = "dropping the Server stops it; keep it in a variable, or call detach()"]
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// The address the server listens on (with the actual port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, lets requests in flight finish (a `?seconds=N` request
    /// still waiting gets 503 at once) for up to 5 seconds, and returns when the server thread
    /// has ended.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    /// Keeps serving until the process exits, without keeping a handle.
    pub fn detach(mut self) {
        // Without its handle the thread runs on; the sender must live as long, or the server
        // would read the channel closing as a shutdown.
        self.thread.take();
        std::mem::forget(self.stop.clone());
    }

    fn stop_and_join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.stop.send(true);
            // The thread catches nothing the handler does (that runs on the blocking pool);
            // a panic here would be a bug in the accept loop, and must not reach the caller.
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// What every request of one server shares.
struct Shared {
    config: Arc<Config>,
    /// One permit per request being served.
    requests: Arc<Semaphore>,
    /// Turns true when the server shuts down (`None` inside an axum application).
    stop: Option<watch::Receiver<bool>>,
}

/// Starts the server thread on a bound listener.
pub(super) fn start(listener: std::net::TcpListener, config: Arc<Config>) -> Result<Server, Error> {
    let start_error =
        |what: &str, e: std::io::Error| Error::with_source(ErrorKind::Start, what.into(), e);
    let addr = listener
        .local_addr()
        .map_err(|e| start_error("cannot read the bound address", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| start_error("cannot make the listener non-blocking", e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .thread_name("holdup-http-worker")
        .on_thread_start(crate::registry::mark_own_thread)
        .max_blocking_threads(config.max_concurrent_requests)
        .build()
        .map_err(|e| start_error("cannot start the server's runtime", e))?;
    let listener = {
        let _entered = runtime.enter();
        TcpListener::from_std(listener)
            .map_err(|e| start_error("cannot register the listener", e))?
    };
    let (stop, stopped) = watch::channel(false);
    let grace = config.shutdown_grace;
    let shared = Arc::new(Shared {
        requests: Arc::new(Semaphore::new(config.max_concurrent_requests)),
        config,
        stop: Some(stopped.clone()),
    });
    let thread = std::thread::Builder::new()
        .name("holdup-http".into())
        .spawn(move || {
            crate::registry::mark_own_thread();
            runtime.block_on(accept_loop(listener, shared, stopped));
            // Blocking work cannot be cancelled; give it the grace period, then let it finish
            // detached (it ends on its own; the response has nowhere to go).
            runtime.shutdown_timeout(grace);
        })
        .map_err(|e| start_error("cannot spawn the server thread", e))?;
    Ok(Server {
        addr,
        stop,
        thread: Some(thread),
    })
}

/// Accepts connections until told to stop, then shuts them down gracefully.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let config = shared.config.clone();
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(config.max_connections));
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stopped.wait_for(|&stop| stop) => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(_) => {
                // Out of file descriptors or an aborted handshake: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            continue; // over the connection limit: closed by dropping it
        };
        let _ = stream.set_nodelay(true);
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(config.write_timeout));
        let io = TokioIo::new(Box::pin(stream));
        let shared = shared.clone();
        let service = hyper::service::service_fn(move |request| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(handle(&shared, request).await.map(Full::new)) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .max_buf_size(config.max_request_bytes)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors (malformed requests, timeouts, resets) end this connection only.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(config.shutdown_grace) => {}
    }
}

/// Serves one request: limits, body, then the handler on the blocking pool.
async fn handle<B>(shared: &Shared, request: Request<B>) -> Response<Bytes>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let respond = |r: Response<Vec<u8>>| r.map(Bytes::from);
    let config = &shared.config;
    if let Some(denied) = handler::check_token(request.headers(), config) {
        return respond(denied);
    }
    let Ok(_permit) = shared.requests.clone().try_acquire_owned() else {
        return respond(handler::unavailable(&format!(
            "holdup: too many concurrent requests (this server serves {} at a time); try again",
            config.max_concurrent_requests
        )));
    };
    let (parts, body) = request.into_parts();
    let body = if parts.method == Method::POST {
        let read = Limited::new(body, config.max_request_bytes).collect();
        match tokio::time::timeout(config.body_read_timeout, read).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return respond(handler::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                        "holdup: request body larger than {} bytes",
                        config.max_request_bytes
                    ),
                ));
            }
            Ok(Err(_)) => {
                return respond(handler::error(
                    StatusCode::BAD_REQUEST,
                    "holdup: malformed request body",
                ));
            }
            Err(_) => {
                return respond(handler::error(
                    StatusCode::REQUEST_TIMEOUT,
                    "holdup: timed out reading the request body",
                ));
            }
        }
    } else {
        Bytes::new()
    };
    let routed = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            handler::route(
                &parts.method,
                parts.uri.path(),
                parts.uri.query(),
                &body,
                &config,
            )
        })
        .await
    };
    let (name, wait, before) = match routed {
        Ok(Action::Respond(r)) => return respond(r),
        Ok(Action::Delta { name, wait, before }) => (name, wait, before),
        Err(_) => return respond(internal_error()),
    };
    let wait = tokio::time::sleep(wait);
    match &shared.stop {
        Some(stop) => {
            let mut stop = stop.clone();
            tokio::select! {
                _ = wait => {}
                _ = stop.wait_for(|&s| s) => {
                    return respond(handler::unavailable("holdup: the server is shutting down"));
                }
            }
        }
        None => wait.await,
    }
    match tokio::task::spawn_blocking(move || handler::finish_delta(name, before)).await {
        Ok(r) => respond(r),
        Err(_) => respond(internal_error()),
    }
}

/// The answer when the handler failed (a panic in it is caught by the blocking pool).
fn internal_error() -> Response<Vec<u8>> {
    handler::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "holdup: internal error while serving the request",
    )
}

/// The endpoints as an axum `Router`, served by the application's runtime.
#[cfg(feature = "axum")]
pub(super) fn router(config: Arc<Config>) -> axum::Router {
    use axum::routing::any;

    let shared = Arc::new(Shared {
        requests: Arc::new(Semaphore::new(config.max_concurrent_requests)),
        config,
        stop: None,
    });
    let serve = move |request: axum::extract::Request| {
        let shared = shared.clone();
        async move { handle(&shared, request).await.map(axum::body::Body::from) }
    };
    axum::Router::new()
        .route("/debug/pprof", any(serve.clone()))
        .route("/debug/pprof/", any(serve.clone()))
        .route("/debug/pprof/{*name}", any(serve.clone()))
        .route("/debug/holdup/{*name}", any(serve))
}

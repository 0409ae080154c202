//! The tier's own tokio runtime, and the futures its operations return.
//!
//! **Why a multi-thread runtime with one worker.** The invalidation subscriber must run all the
//! time, not only while a caller awaits something: an instance that stops reading the channel
//! serves sessions other instances deleted. A current-thread runtime makes progress only inside
//! `block_on`, so it would need a thread of its own parked in `block_on` anyway; a multi-thread
//! runtime with one worker is exactly that thread, with `spawn` from any thread built in. One
//! worker is enough (an operation costs microseconds of CPU around a network round trip) and keeps
//! the addon's footprint to one thread beside Node's. Redis connections are bound to the reactor of
//! the runtime that made them, so every operation is spawned onto this runtime, and callers get a
//! `JoinHandle`-backed future that any executor (napi-rs', a test's, `futures::executor::block_on`)
//! or thread can await.
//!
//! **Shutdown.** Dropping the runtime stops every task at its next await (connections close) and
//! joins the worker thread, within [`SHUTDOWN_WAIT`]: no thread outlives the tier, so none can
//! outlive the addon image either (napi-rs #3443). Joining is forbidden inside an async context
//! (tokio panics); dropped there, the runtime is shut down in the background instead, and its thread
//! may outlive the drop by a moment: the binding should drop the tier from synchronous code (an
//! environment cleanup hook, `destroy()`), which joins. The worker is a plain thread: process exit
//! never waits for it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

/// The longest dropping the tier waits for the worker thread to stop.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

pub(crate) struct OwnedRuntime {
    runtime: Option<Runtime>,
}

impl OwnedRuntime {
    pub fn new() -> std::io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(1)
            // Host-name resolution is the only blocking work (tokio's `lookup_host`).
            .max_blocking_threads(2)
            .thread_name("vsc-redis")
            .enable_io()
            .enable_time()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    pub fn handle(&self) -> Option<&Handle> {
        self.runtime.as_ref().map(Runtime::handle)
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            if Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(SHUTDOWN_WAIT);
            }
        }
    }
}

/// What an operation answers when it could not run at all (the tier shut down under it, or a
/// panic, which the tier does not expect).
pub trait Unavailable {
    fn unavailable() -> Self;
}

/// The future an operation returns. The operation is already running when this is created: dropping
/// the future does not cancel it (a `set` or `delete` completes, and is counted, even if nobody
/// awaits it). `Send + 'static`, and awaitable from any executor.
#[must_use = "an Op runs without being awaited, but its answer is in the future"]
pub struct Op<T> {
    state: OpState<T>,
}

enum OpState<T> {
    Ready(Option<T>),
    Running(JoinHandle<T>),
}

impl<T> Op<T> {
    pub(crate) fn ready(value: T) -> Self {
        Self {
            state: OpState::Ready(Some(value)),
        }
    }

    pub(crate) fn running(handle: JoinHandle<T>) -> Self {
        Self {
            state: OpState::Running(handle),
        }
    }
}

impl<T: Unavailable> Future for Op<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        // Op<T> is Unpin: JoinHandle is, and Option<T> is only moved out.
        let this = self.get_mut();
        match &mut this.state {
            OpState::Ready(value) => Poll::Ready(value.take().unwrap_or_else(T::unavailable)),
            OpState::Running(handle) => match Pin::new(handle).poll(cx) {
                Poll::Ready(Ok(value)) => Poll::Ready(value),
                Poll::Ready(Err(_)) => Poll::Ready(T::unavailable()),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<T> Unpin for Op<T> {}

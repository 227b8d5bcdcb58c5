//! A single-threaded executor whose run queue is a fixed array, so waking a task never
//! allocates. `smol::LocalExecutor` wraps smol's multi-threaded executor, whose unbounded
//! run queue allocates a 504-byte block every 31 wake-ups and whose spawn and sleep paths
//! take a mutex; a pipeline stage wakes its neighbour for every batch, so those were the
//! last per-message allocations (docs/BENCHMARKS.md). Tasks are `async_task` tasks, the same
//! `Task` type smol returns, and I/O still runs on smol's reactor through `smol::block_on`.

use async_task::{Runnable, Task};
use atomic_waker::AtomicWaker;
use concurrent_queue::{ConcurrentQueue, PushError};
use smol::future::{self, FutureExt};
use std::future::Future;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Tasks that may be runnable at once without touching the overflow queue. Each task is
/// in the queue at most once, so this bounds live tasks (plugins and connections), not
/// messages. 256 slots are 4 KiB.
const READY_SLOTS: usize = 256;

/// Tasks run before the executor lets `block_on` poll the reactor, so a busy pipeline
/// cannot starve I/O readiness (smol's executor uses the same figure).
const RUN_BUDGET: usize = 200;

/// Runnable tasks, pushed by wakers on any thread and popped by the executor's thread.
struct RunQueue {
    ready: ConcurrentQueue<Runnable>,
    /// Used only when more than [`READY_SLOTS`] tasks are runnable at once (this is the
    /// one path that allocates); while it holds anything, new wake-ups queue behind it so
    /// none starves.
    overflow: ConcurrentQueue<Runnable>,
    /// The executor's waker while it sleeps with an empty queue.
    sleeper: AtomicWaker,
}

impl RunQueue {
    fn schedule(&self, runnable: Runnable) {
        let queued = match self.overflow.is_empty() {
            true => self.ready.push(runnable),
            false => Err(PushError::Full(runnable)),
        };
        if let Err(PushError::Full(runnable) | PushError::Closed(runnable)) = queued {
            // Unbounded and never closed: the push cannot fail.
            let _ = self.overflow.push(runnable);
        }
        self.sleeper.wake();
    }

    fn pop(&self) -> Option<Runnable> {
        self.ready.pop().or_else(|_| self.overflow.pop()).ok()
    }
}

/// A single-threaded executor: tasks are spawned and run on the thread that owns it, and
/// may be woken from any thread.
pub struct LocalExecutor {
    queue: Arc<RunQueue>,
    /// Tasks need not be `Send`, so the executor must stay on its thread.
    _not_send: PhantomData<Rc<()>>,
}

impl Default for LocalExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalExecutor {
    pub fn new() -> LocalExecutor {
        LocalExecutor {
            queue: Arc::new(RunQueue {
                ready: ConcurrentQueue::bounded(READY_SLOTS),
                overflow: ConcurrentQueue::unbounded(),
                sleeper: AtomicWaker::new(),
            }),
            _not_send: PhantomData,
        }
    }

    /// Spawns a task on this executor. Dropping the returned `Task` cancels it.
    pub fn spawn<T: 'static>(&self, future: impl Future<Output = T> + 'static) -> Task<T> {
        let queue = self.queue.clone();
        let (runnable, task) = async_task::spawn_local(future, move |r| queue.schedule(r));
        runnable.schedule();
        task
    }

    /// Runs `future` and this executor's tasks on the calling thread until `future`
    /// completes. Tasks cancelled by then are dropped here, on their own thread.
    pub fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        let run_tasks = future::poll_fn(|cx| self.run_ready(cx));
        let output = smol::block_on(future.or(run_tasks));
        while let Some(runnable) = self.queue.pop() {
            runnable.run();
        }
        output
    }

    /// Runs queued tasks until the queue is empty (then sleeps until a wake-up) or the
    /// budget is spent (then yields to the reactor). Never completes.
    fn run_ready<T>(&self, cx: &mut Context<'_>) -> Poll<T> {
        for _ in 0..RUN_BUDGET {
            let runnable = match self.queue.pop() {
                Some(runnable) => runnable,
                None => {
                    // Register before the second look, so a wake-up in between is not lost.
                    self.queue.sleeper.register(cx.waker());
                    match self.queue.pop() {
                        Some(runnable) => runnable,
                        None => return Poll::Pending,
                    }
                }
            };
            runnable.run();
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn more_runnable_tasks_than_ready_slots_all_complete() {
        let ex = LocalExecutor::new();
        let done = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..READY_SLOTS * 4)
            .map(|_| {
                let done = done.clone();
                ex.spawn(async move {
                    for _ in 0..3 {
                        future::yield_now().await;
                    }
                    done.set(done.get() + 1);
                })
            })
            .collect();
        ex.block_on(async {
            for task in tasks {
                task.await;
            }
        });
        assert_eq!(done.get(), READY_SLOTS * 4);
    }

    #[test]
    fn a_task_woken_from_another_thread_runs() {
        let ex = LocalExecutor::new();
        let (tx, rx) = smol::channel::bounded::<u32>(1);
        let task = ex.spawn(async move { rx.recv().await.unwrap_or(0) + 1 });
        let sender = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            smol::block_on(tx.send(41)).is_ok()
        });
        assert_eq!(ex.block_on(task), 42);
        assert!(sender.join().unwrap_or(false));
    }

    #[test]
    fn tasks_cancelled_by_the_end_are_dropped_on_the_executor_thread() {
        let ex = LocalExecutor::new();
        let dropped = Rc::new(Cell::new(false));
        struct SetOnDrop(Rc<Cell<bool>>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let guard = SetOnDrop(dropped.clone());
        let pending = ex.spawn(async move {
            let _guard = guard;
            future::pending::<()>().await;
        });
        ex.block_on(async move {
            future::yield_now().await;
            drop(pending);
        });
        assert!(dropped.get());
    }
}

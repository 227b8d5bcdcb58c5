//! One single-threaded executor per core (`maxprocs` threads). Plugins are built on
//! the main thread, then each plugin's task is handed to one executor round-robin and runs
//! there for its whole life, so plugin state needs no locks (and may later hold `!Send`
//! Lua states). The I/O reactor is smol's process-wide epoll.

use super::local_executor::LocalExecutor;
use smol::channel::{self, Receiver, Sender};
use smol::Task;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() -> Task<()> + Send>;

thread_local! {
    static CURRENT: RefCell<Option<Rc<LocalExecutor>>> = const { RefCell::new(None) };
}

/// Spawns a task on the executor of the calling thread (for per-connection tasks).
///
/// Panics if called outside an executor thread, which is a programming error.
pub fn spawn_local<T: 'static>(future: impl Future<Output = T> + 'static) -> Task<T> {
    CURRENT.with(|current| match current.borrow().as_ref() {
        Some(ex) => ex.spawn(future),
        None => panic!("spawn_local called outside an executor thread"),
    })
}

/// The executor threads.
pub struct Executors {
    jobs: Vec<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    next: AtomicUsize,
}

impl Executors {
    /// Starts `count` executor threads (at least one).
    pub fn start(count: usize) -> std::io::Result<Executors> {
        let mut jobs = Vec::new();
        let mut threads = Vec::new();
        for i in 0..count.max(1) {
            let (tx, rx) = channel::unbounded::<Job>();
            jobs.push(tx);
            let thread = std::thread::Builder::new()
                .name(format!("hekad-exec-{i}"))
                .spawn(move || run_executor(rx))?;
            threads.push(thread);
        }
        Ok(Executors {
            jobs,
            threads,
            next: AtomicUsize::new(0),
        })
    }

    pub fn count(&self) -> usize {
        self.jobs.len()
    }

    /// Runs the future made by `make` on the next executor, round-robin. `make` runs on
    /// that executor's thread, so the future itself need not be `Send`.
    pub fn spawn<F, Fut>(&self, make: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.jobs.len();
        self.spawn_on(i, make);
    }

    /// Like [`Executors::spawn`] on executor `index` (modulo the count).
    pub fn spawn_on<F, Fut>(&self, index: usize, make: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let job: Job = Box::new(move || spawn_local(make()));
        let _ = self.jobs[index % self.jobs.len()].try_send(job);
    }

    /// Waits until every task spawned so far has finished, then stops the threads.
    pub fn join(self) {
        drop(self.jobs);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

fn run_executor(jobs: Receiver<Job>) {
    let ex = Rc::new(LocalExecutor::new());
    CURRENT.with(|current| *current.borrow_mut() = Some(ex.clone()));
    ex.block_on(async {
        let mut tasks = Vec::new();
        while let Ok(job) = jobs.recv().await {
            tasks.push(job());
        }
        for task in tasks {
            task.await;
        }
    });
    CURRENT.with(|current| current.borrow_mut().take());
}

//! When the journal reaches the disk. A record is written (`write(2)`
//! returned) before the send it guards, so it survives the death of the
//! process: the kernel keeps what was written. Surviving the machine's
//! death needs `fsync`, which costs more than a whole step, so a thread of
//! its own does it: at least every 250 ms while records are unsynced, at
//! the end of the run, and, in strict mode, before each POST or PATCH
//! leaves. One `fsync` covers every record written before it began, so
//! loop items waiting at once share it (group commit).

use std::fs::File;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// The longest a written record waits to be synced.
const INTERVAL: Duration = Duration::from_millis(250);

/// The records written and synced so far, counted.
#[derive(Default)]
struct Counts {
    written: u64,
    synced: u64,
    /// Some record up to this one must be synced now (strict mode).
    wanted: u64,
    /// When the oldest unsynced record was written.
    since: Option<Instant>,
    stop: bool,
    /// The last sync failed: the journal is no longer trustworthy.
    failed: Option<String>,
}

struct Shared {
    counts: Mutex<Counts>,
    wake: Condvar,
    /// Announces how many records are on disk, to the tasks waiting.
    synced: watch::Sender<u64>,
}

impl Shared {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The syncing thread of one journal file.
pub(super) struct Syncer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    pub(super) fn start(file: File) -> std::io::Result<Syncer> {
        let (synced, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            counts: Mutex::default(),
            wake: Condvar::new(),
            synced,
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("journal-sync".into())
            .spawn(move || run(&worker, &file))?;
        Ok(Syncer {
            shared,
            thread: Some(thread),
        })
    }

    /// One more record was written; its number.
    pub(super) fn written(&self) -> u64 {
        let mut c = self.shared.counts();
        c.written += 1;
        if c.since.is_none() {
            c.since = Some(Instant::now());
            self.shared.wake.notify_one();
        }
        c.written
    }

    /// Waits until record `seq` is on disk.
    pub(super) async fn synced(&self, seq: u64) -> Result<(), String> {
        let mut rx = self.shared.synced.subscribe();
        {
            let mut c = self.shared.counts();
            if let Some(e) = &c.failed {
                return Err(e.clone());
            }
            if c.synced >= seq {
                return Ok(());
            }
            c.wanted = c.wanted.max(seq);
            self.shared.wake.notify_one();
        }
        let waited = rx.wait_for(|&s| s >= seq).await;
        match (waited, self.shared.counts().failed.clone()) {
            (_, Some(e)) => Err(e),
            (Ok(_), None) => Ok(()),
            (Err(_), None) => Err("the journal's sync thread stopped".into()),
        }
    }

    /// How many records are on disk.
    #[cfg(test)]
    pub(super) fn synced_count(&self) -> u64 {
        self.shared.counts().synced
    }

    /// Syncs what is left and stops the thread.
    pub(super) fn finish(&mut self) -> Result<(), String> {
        self.shared.counts().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        match self.shared.counts().failed.clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The thread: sleeps until records wait, then syncs them all at once.
fn run(shared: &Shared, file: &File) {
    loop {
        let mut c = shared.counts();
        let target = loop {
            let due = c.since.is_some_and(|t| t.elapsed() >= INTERVAL);
            if c.written > c.synced && (c.stop || c.wanted > c.synced || due) {
                break c.written;
            }
            if c.stop {
                return;
            }
            c = match c.since {
                Some(t) => {
                    let left = INTERVAL.saturating_sub(t.elapsed());
                    shared
                        .wake
                        .wait_timeout(c, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => shared.wake.wait(c).unwrap_or_else(|e| e.into_inner()),
            };
        };
        c.since = None;
        drop(c);
        // Every record written before this call is on disk after it.
        let result = file.sync_data();
        let mut c = shared.counts();
        match result {
            Ok(()) => c.synced = c.synced.max(target),
            Err(e) => c.failed = Some(crate::fsio::io_words(&e)),
        }
        if c.written > c.synced && c.since.is_none() {
            c.since = Some(Instant::now());
        }
        let synced = c.synced;
        let failed = c.failed.is_some();
        drop(c);
        shared.synced.send_replace(synced);
        if failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn records_are_synced_together_and_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("j")).unwrap();
        let mut syncer = Syncer::start(file).unwrap();
        let a = syncer.written();
        let b = syncer.written();
        // Waiting for the later one covers both.
        syncer.synced(b).await.unwrap();
        assert!(syncer.shared.counts().synced >= a);
        let c = syncer.written();
        syncer.finish().unwrap();
        assert_eq!(syncer.shared.counts().synced, c);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_unsynced_record_is_synced_within_the_interval() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("j")).unwrap();
        let syncer = Syncer::start(file).unwrap();
        let seq = syncer.written();
        let mut rx = syncer.shared.synced.subscribe();
        tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|&s| s >= seq))
            .await
            .expect("synced by the thread alone")
            .unwrap();
    }
}

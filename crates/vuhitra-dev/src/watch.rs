//! `--watch`: notices when the project's files change (the user's own edits
//! included), so the checks can run again. File events only wake it; what
//! counts is a change of content against the last snapshot, so the loop's
//! own writes and the checks' byproducts do not trigger it, and a missed
//! event is caught by a slow poll.

use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::project::{Project, Snapshot};

/// Events within this window count as one change (an editor's save is several).
const SETTLE: Duration = Duration::from_millis(250);
/// A look at the files even without events (network file systems, bind mounts).
const POLL: Duration = Duration::from_secs(2);

pub struct Watcher {
    _inner: notify::RecommendedWatcher,
    events: mpsc::UnboundedReceiver<()>,
}

impl Watcher {
    pub fn new(project: &Project) -> notify::Result<Watcher> {
        let (tx, events) = mpsc::unbounded_channel();
        let mut inner = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(e) = event {
                if !e.kind.is_access() {
                    let _ = tx.send(());
                }
            }
        })?;
        inner.watch(project.root(), RecursiveMode::Recursive)?;
        Ok(Watcher { _inner: inner, events })
    }

    /// Waits until the project's files differ from `known`; the new snapshot.
    pub async fn changed(&mut self, project: &Project, known: &Snapshot) -> Snapshot {
        loop {
            tokio::select! {
                _ = self.events.recv() => {
                    tokio::time::sleep(SETTLE).await;
                    while self.events.try_recv().is_ok() {}
                }
                _ = tokio::time::sleep(POLL) => {}
            }
            let now = project.snapshot();
            if now != *known {
                return now;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_edit_is_noticed_and_a_rewrite_of_the_same_content_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::open(dir.path(), "w", None).unwrap();
        std::fs::write(project.root().join("a.py"), "x = 1\n").unwrap();
        let known = project.snapshot();
        let mut watcher = Watcher::new(&project).unwrap();
        let root = project.root().to_path_buf();
        let editor = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            // The same bytes again, and a cache file: not a change.
            std::fs::write(root.join("a.py"), "x = 1\n").unwrap();
            std::fs::create_dir_all(root.join("__pycache__")).unwrap();
            std::fs::write(root.join("__pycache__/a.pyc"), "junk").unwrap();
            tokio::time::sleep(Duration::from_millis(600)).await;
            std::fs::write(root.join("a.py"), "x = 2\n").unwrap();
        });
        let started = std::time::Instant::now();
        let now = tokio::time::timeout(Duration::from_secs(20), watcher.changed(&project, &known)).await.unwrap();
        assert_eq!(now["a.py"], "x = 2\n");
        assert!(started.elapsed() >= Duration::from_millis(800), "woke before the real change");
        editor.await.unwrap();
    }
}

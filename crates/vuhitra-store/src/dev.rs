//! Dev-mode transcripts: one task per request, each iteration's prompt,
//! answer, checks and timings, and every version of every file it wrote
//! (iteration 0 is the project as the task found it).

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use crate::records::Result;
use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DevTask {
    pub id: i64,
    pub created_at: i64,
    pub project: String,
    pub language: String,
    pub model: String,
    pub task: String,
    /// running, passed, limit, cancelled or error.
    pub status: String,
    pub iterations: i64,
    pub passed_at: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub elapsed_ms: f64,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DevIteration {
    pub n: i64,
    pub created_at: i64,
    pub prompt: String,
    pub response: String,
    pub passed: bool,
    pub format_error: Option<String>,
    /// The checks that ran, as JSON (command, exit status, output).
    pub checks: String,
    pub feedback: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub elapsed_ms: f64,
    /// The iteration's heuristics record.
    pub record_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DevFile {
    pub iteration: i64,
    pub path: String,
    pub content: String,
}

const TASK_COLUMNS: &str = "id, created_at, project, language, model, task, status, iterations, passed_at, \
                            prompt_tokens, completion_tokens, elapsed_ms, finished_at";
const ITERATION_COLUMNS: &str = "n, created_at, prompt, response, passed, format_error, checks, feedback, \
                                 prompt_tokens, completion_tokens, elapsed_ms, record_id";

fn task_from_row(r: &Row) -> rusqlite::Result<DevTask> {
    Ok(DevTask {
        id: r.get(0)?,
        created_at: r.get(1)?,
        project: r.get(2)?,
        language: r.get(3)?,
        model: r.get(4)?,
        task: r.get(5)?,
        status: r.get(6)?,
        iterations: r.get(7)?,
        passed_at: r.get(8)?,
        prompt_tokens: r.get(9)?,
        completion_tokens: r.get(10)?,
        elapsed_ms: r.get(11)?,
        finished_at: r.get(12)?,
    })
}

fn iteration_from_row(r: &Row) -> rusqlite::Result<DevIteration> {
    Ok(DevIteration {
        n: r.get(0)?,
        created_at: r.get(1)?,
        prompt: r.get(2)?,
        response: r.get(3)?,
        passed: r.get(4)?,
        format_error: r.get(5)?,
        checks: r.get(6)?,
        feedback: r.get(7)?,
        prompt_tokens: r.get(8)?,
        completion_tokens: r.get(9)?,
        elapsed_ms: r.get(10)?,
        record_id: r.get(11)?,
    })
}

impl Store {
    /// Starts a task's transcript with the files as the task found them.
    pub fn dev_task_start(
        &mut self,
        project: &str,
        language: &str,
        model: &str,
        task: &str,
        files: &[(String, String)],
        at: i64,
    ) -> Result<i64> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
        let run = || -> rusqlite::Result<i64> {
            tx.execute(
                "INSERT INTO dev_tasks (created_at, project, language, model, task) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![at, project, language, model, task],
            )?;
            let id = tx.last_insert_rowid();
            insert_files(&tx, id, 0, files)?;
            Ok(id)
        };
        let id = run().map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
        tx.commit().map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
        Ok(id)
    }

    /// Adds one iteration and the files it wrote, and its totals to the task.
    pub fn dev_iteration_add(&mut self, task_id: i64, it: &DevIteration, files: &[(String, String)]) -> Result<()> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(err)?;
        let run = || -> rusqlite::Result<()> {
            tx.execute(
                &format!(
                    "INSERT INTO dev_iterations (task_id, {ITERATION_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ),
                params![
                    task_id,
                    it.n,
                    it.created_at,
                    it.prompt,
                    it.response,
                    it.passed,
                    it.format_error,
                    it.checks,
                    it.feedback,
                    it.prompt_tokens,
                    it.completion_tokens,
                    it.elapsed_ms,
                    it.record_id
                ],
            )?;
            insert_files(&tx, task_id, it.n, files)?;
            tx.execute(
                "UPDATE dev_tasks SET iterations = iterations + 1, prompt_tokens = prompt_tokens + ?2, \
                 completion_tokens = completion_tokens + ?3, elapsed_ms = elapsed_ms + ?4 WHERE id = ?1",
                params![task_id, it.prompt_tokens, it.completion_tokens, it.elapsed_ms],
            )?;
            Ok(())
        };
        run().map_err(err)?;
        tx.commit().map_err(err)
    }

    pub fn dev_task_finish(&self, task_id: i64, status: &str, passed_at: Option<i64>, at: i64) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE dev_tasks SET status = ?2, passed_at = ?3, finished_at = ?4 WHERE id = ?1",
                params![task_id, status, passed_at, at],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The latest tasks first.
    pub fn dev_tasks(&self, limit: usize) -> Result<Vec<DevTask>> {
        self.query_all(
            &format!("SELECT {TASK_COLUMNS} FROM dev_tasks ORDER BY id DESC LIMIT ?1"),
            [limit as i64],
            task_from_row,
        )
    }

    pub fn dev_task(&self, id: i64) -> Result<DevTask> {
        self.conn()
            .query_row(&format!("SELECT {TASK_COLUMNS} FROM dev_tasks WHERE id = ?1"), [id], task_from_row)
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or_else(|| StoreError::NoSuchId { what: "dev task", id: id.to_string() })
    }

    pub fn dev_iterations(&self, task_id: i64) -> Result<Vec<DevIteration>> {
        self.query_all(
            &format!("SELECT {ITERATION_COLUMNS} FROM dev_iterations WHERE task_id = ?1 ORDER BY n"),
            [task_id],
            iteration_from_row,
        )
    }

    /// The files of one iteration (0: before the task), or of all.
    pub fn dev_files(&self, task_id: i64, iteration: Option<i64>) -> Result<Vec<DevFile>> {
        self.query_all(
            "SELECT iteration, path, content FROM dev_files WHERE task_id = ?1 AND (?2 IS NULL OR iteration = ?2) \
             ORDER BY iteration, path",
            params![task_id, iteration],
            |r| Ok(DevFile { iteration: r.get(0)?, path: r.get(1)?, content: r.get(2)? }),
        )
    }
}

fn insert_files(
    tx: &rusqlite::Transaction,
    task_id: i64,
    iteration: i64,
    files: &[(String, String)],
) -> rusqlite::Result<()> {
    let mut stmt =
        tx.prepare("INSERT OR REPLACE INTO dev_files (task_id, iteration, path, content) VALUES (?1, ?2, ?3, ?4)")?;
    for (path, content) in files {
        stmt.execute(params![task_id, iteration, path, content])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcript_keeps_iterations_and_file_versions() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        let before = vec![("calc.py".to_string(), "v0\n".to_string())];
        let id = store.dev_task_start("calc", "python", "m", "add", &before, 1).unwrap();
        for (n, passed) in [(1, false), (2, true)] {
            let it = DevIteration {
                n,
                created_at: 10 + n,
                prompt: format!("p{n}"),
                response: format!("r{n}"),
                passed,
                format_error: None,
                checks: "[]".into(),
                feedback: (!passed).then(|| "failed".to_string()),
                prompt_tokens: 100,
                completion_tokens: 20,
                elapsed_ms: 5.0,
                record_id: Some(format!("rec{n}")),
            };
            store.dev_iteration_add(id, &it, &[("calc.py".into(), format!("v{n}\n"))]).unwrap();
        }
        store.dev_task_finish(id, "passed", Some(2), 99).unwrap();
        let t = store.dev_task(id).unwrap();
        assert_eq!((t.status.as_str(), t.iterations, t.passed_at, t.prompt_tokens), ("passed", 2, Some(2), 200));
        let its = store.dev_iterations(id).unwrap();
        assert_eq!(its.len(), 2);
        assert_eq!(its[0].feedback.as_deref(), Some("failed"));
        let versions: Vec<String> = store.dev_files(id, None).unwrap().into_iter().map(|f| f.content).collect();
        assert_eq!(versions, ["v0\n", "v1\n", "v2\n"]);
        assert_eq!(store.dev_files(id, Some(1)).unwrap()[0].content, "v1\n");
        assert_eq!(store.dev_tasks(10).unwrap()[0].id, id);
        assert!(matches!(store.dev_task(id + 1), Err(StoreError::NoSuchId { .. })));
    }
}

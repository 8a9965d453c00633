//! Uploads into the workspace and `vuhitra run` end to end: every limit is
//! shown holding against a real command (a loop, a fork bomb, a memory hog,
//! gigabytes of output, a write outside the workspace, a socket), and bad
//! uploads leave nothing behind.

#[macro_use]
mod common;

use std::os::unix::fs::PermissionsExt;

use common::TestEnv;
use serde_json::Value;

fn env() -> TestEnv {
    TestEnv::with_sandbox_workspace()
}

fn workspace_entries(env: &TestEnv) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(env.home.path().join("workspace"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn run_json(env: &TestEnv, args: &[&str]) -> (i32, Value) {
    let mut full = vec!["--json", "run"];
    full.extend_from_slice(args);
    let r = env.run(&full);
    (r.code, r.json())
}

#[test]
fn uploads_are_registered_with_checksum_type_and_size() {
    let env = env();
    let csv = env.file("sales.csv", "region,amount\nnorth,10\nsouth,20\n");
    let bin = env.file("blob.csv", [0u8, 1, 2, 3, 255, 0, 7]);
    let out = env.run(&["--json", "upload", csv.to_str().unwrap(), bin.to_str().unwrap()]).ok().json();
    assert_eq!(out[0]["name"], "sales.csv");
    assert_eq!(out[0]["kind"], "csv");
    assert_eq!(out[0]["size"], 32);
    assert_eq!(out[0]["sha256"], vuhitra_nlp::sha256_hex(b"region,amount\nnorth,10\nsouth,20\n").as_str());
    assert_eq!(out[1]["kind"], "binary", "a binary file named .csv is detected as binary");
    let list = env.run(&["--json", "files", "list"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(workspace_entries(&env), ["blob.csv", "sales.csv"]);
    env.run(&["files", "rm", "blob.csv"]).ok();
    assert_eq!(workspace_entries(&env), ["sales.csv"]);
    env.run(&["files", "rm", "blob.csv"]).fails_with(1);
    let all = env.run(&["--json", "files", "cleanup", "--all"]).ok().json();
    assert_eq!(all["deleted"], serde_json::json!(["sales.csv"]));
    assert!(workspace_entries(&env).is_empty());
}

#[test]
fn bad_uploads_are_refused_and_leave_nothing_behind() {
    let mut env = env();
    env.set("MAX_UPLOADED_FILE_SIZE", "1KiB");
    let big = env.file("big.csv", "x".repeat(4096));
    let r = env.run(&["upload", big.to_str().unwrap()]).fails_with(2);
    assert!(r.stderr.contains("big.csv") && r.stderr.contains("MAX_UPLOADED_FILE_SIZE"), "{}", r.stderr);
    let empty = env.file("empty.csv", "");
    let r = env.run(&["upload", empty.to_str().unwrap()]).fails_with(2);
    assert!(r.stderr.contains("empty.csv is empty"), "{}", r.stderr);
    let target = env.file("real.txt", "data");
    let link = env.cwd.path().join("link.txt");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let r = env.run(&["upload", link.to_str().unwrap()]).fails_with(2);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
    let r = env.run(&["upload", env.cwd.path().to_str().unwrap()]).fails_with(2);
    assert!(r.stderr.contains("a directory"), "{}", r.stderr);
    let r = env.run(&["upload", "/dev/zero"]).fails_with(2);
    assert!(r.stderr.contains("a device"), "reading /dev/zero would never end: {}", r.stderr);
    for bad in ["../escape.txt", "/etc/passwd", ".hidden"] {
        let r = env.run(&["upload", target.to_str().unwrap(), "--as", bad]).fails_with(2);
        assert!(r.stderr.contains("not a usable file name"), "{bad}: {}", r.stderr);
    }
    env.run(&["upload", "missing.csv"]).fails_with(2);
    assert!(workspace_entries(&env).is_empty(), "no partial or temporary file is left: {:?}", workspace_entries(&env));
    assert_eq!(env.run(&["--json", "files", "list"]).ok().json(), serde_json::json!([]));
    // A traversal in the source path only picks the file; its name lands inside.
    let nested = env.cwd.path().join("sub");
    std::fs::create_dir(&nested).unwrap();
    let up = format!("{}/../real.txt", nested.display());
    let out = env.run(&["--json", "upload", &up]).ok().json();
    assert_eq!(out[0]["name"], "real.txt");
    assert_eq!(workspace_entries(&env), ["real.txt"]);
}

#[test]
fn expired_uploads_are_removed_by_the_next_command() {
    let env = env();
    let f = env.file("short.txt", "lives briefly");
    env.run(&["upload", f.to_str().unwrap(), "--ttl", "1s"]).ok();
    let listed = env.run(&["--json", "files", "list"]).ok().json();
    assert!(listed[0]["expires_at"].is_number());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    env.run(&["info"]).ok(); // any command
    assert!(workspace_entries(&env).is_empty());
    assert_eq!(env.run(&["--json", "files", "list"]).ok().json(), serde_json::json!([]));
}

#[test]
fn uploads_expire_after_upload_ttl_unless_kept() {
    let mut env = env();
    let f = env.file("data.csv", "a\n1\n");
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let up = env.run(&["--json", "upload", f.to_str().unwrap()]).ok().json();
    let day = 24 * 3600 * 1000;
    let expires = up[0]["expires_at"].as_i64().expect("a default expiry");
    assert!((before + day..before + day + 60_000).contains(&expires), "24h by default: {expires} vs {before}");
    let kept = env.run(&["--json", "upload", f.to_str().unwrap(), "--as", "kept.csv", "--keep"]).ok().json();
    assert!(kept[0]["expires_at"].is_null(), "--keep: no expiry");
    let r = env.run(&["upload", f.to_str().unwrap(), "--keep", "--ttl", "1h"]).fails_with(2);
    assert!(r.stderr.contains("--keep") && r.stderr.contains("--ttl"), "{}", r.stderr);
    env.set("UPLOAD_TTL", "0");
    let never = env.run(&["--json", "upload", f.to_str().unwrap(), "--as", "never.csv"]).ok().json();
    assert!(never[0]["expires_at"].is_null(), "UPLOAD_TTL=0: until removed");
    env.set("UPLOAD_TTL", "1s");
    let chat = env.run(&["chat", "@upload @file:data.csv"]).ok();
    assert!(chat.stdout.contains("uploaded data.csv"), "{}", chat.stdout);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    env.run(&["info"]).ok();
    let names: Vec<String> = env
        .run(&["--json", "files", "list"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["kept.csv", "never.csv"], "the @upload under UPLOAD_TTL=1s is gone");
}

#[test]
fn scripts_and_commands_run_in_the_workspace_with_a_scrubbed_environment() {
    if !common::require("python3") {
        return;
    }
    let mut env = env();
    env.set("VUHITRA_SECRET_TOKEN", "hunter2");
    env.file(
        "job.py",
        "import os,sys\nprint('args', sys.argv[1:])\nprint(sorted(os.environ))\nopen('result.txt','w').write('done')\n",
    );
    let (code, j) = run_json(&env, &["job.py", "--rows", "10"]);
    assert_eq!(code, 0, "{j}");
    let stdout = j["outcome"]["stdout"].as_str().unwrap();
    assert!(stdout.contains("args ['--rows', '10']"), "{stdout}");
    assert!(!stdout.contains("VUHITRA_SECRET_TOKEN") && !stdout.contains("OLLAMA"), "environment scrubbed: {stdout}");
    assert_eq!(std::fs::read_to_string(env.home.path().join("workspace/result.txt")).unwrap(), "done");
    let (code, j) = run_json(&env, &["sh", "-c", "exit 3"]);
    assert_eq!((code, j["outcome"]["exit_code"].clone()), (1, serde_json::json!(3)));
    assert_eq!(j["failure"], "the command exited with status 3");
}

#[test]
fn an_infinite_loop_is_stopped_at_the_time_limit() {
    let env = env();
    let (code, j) = run_json(&env, &["--timeout", "2s", "sh", "-c", "while :; do :; done"]);
    assert_eq!(code, 1);
    assert_eq!(j["outcome"]["timed_out"], true);
    assert_eq!(j["failure"], "stopped at the time limit (2 s)");
    let mut cpu = TestEnv { vars: env.vars.clone(), ..TestEnv::new() };
    cpu.home = env.home;
    cpu.set("SANDBOX_CPU_TIME", "1");
    let (code, j) = run_json(&cpu, &["sh", "-c", "while :; do :; done"]);
    assert_eq!((code, j["outcome"]["limit"].clone()), (1, serde_json::json!("cpu time")), "{j}");
}

#[test]
fn a_fork_bomb_hits_the_process_limit_and_nothing_survives() {
    if !common::require("python3") {
        return;
    }
    let mut env = env();
    env.set("SANDBOX_MAX_PROCESSES", "16");
    // Forks until the kernel refuses, then reports how far it got.
    let bomb = "import os,time\nn=0\ntry:\n  while True:\n    if os.fork()==0:\n      time.sleep(30); os._exit(0)\n    n+=1\nexcept OSError as e:\n  print('refused after', n, e.errno)\n";
    env.file("bomb.py", bomb);
    let (code, j) = run_json(&env, &["--timeout", "20s", "bomb.py"]);
    assert_eq!(code, 0, "{j}");
    let out = j["outcome"]["stdout"].as_str().unwrap();
    let n: u32 = out.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(n <= 16, "at most the allowed processes: {out}");
    // The sleeping children were killed with the group when the run ended.
    let ps = std::process::Command::new("sh").args(["-c", "ps -eo args | grep -c '[b]omb.py'"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ps.stdout).trim(), "0");
}

#[test]
fn a_memory_hog_gets_no_memory() {
    if !common::require("python3") {
        return;
    }
    let env = env();
    let (code, j) = run_json(&env, &["--memory", "256MiB", "python3", "-c", "x = bytearray(2 * 1024**3)"]);
    assert_eq!(code, 1);
    assert!(j["outcome"]["stderr"].as_str().unwrap().contains("MemoryError"), "{j}");
}

#[test]
fn gigabytes_of_output_are_capped() {
    let mut env = env();
    env.set("SANDBOX_MAX_OUTPUT", "64KiB");
    let (code, j) = run_json(&env, &["--timeout", "2s", "yes", "vuhitra"]);
    assert_eq!(code, 1);
    assert_eq!(j["outcome"]["stdout"].as_str().unwrap().len(), 64 * 1024);
    assert!(j["outcome"]["stdout_dropped"].as_u64().unwrap() > 0);
    // Writing a file beyond the file-size limit fails too.
    let mut small = TestEnv { vars: env.vars.clone(), ..TestEnv::new() };
    small.home = env.home;
    small.set("MAX_UPLOADED_FILE_SIZE", "1MiB");
    let (code, j) = run_json(&small, &["sh", "-c", "head -c 5000000 /dev/zero > big.bin"]);
    assert_eq!(code, 1, "{j}");
    let size = std::fs::metadata(small.home.path().join("workspace/big.bin")).map(|m| m.len()).unwrap_or(0);
    assert!(size <= 1 << 20, "the file stopped at the limit: {size}");
}

#[test]
fn writes_outside_the_workspace_are_refused() {
    let env = env();
    let outside = env.cwd.path().join("escaped.txt");
    std::fs::set_permissions(env.cwd.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, j) =
        run_json(&env, &["sh", "-c", &format!("echo x > {} ; echo x > /tmp/vuhitra-escape-$$", outside.display())]);
    assert_eq!(code, 1, "{j}");
    assert!(!outside.exists(), "even a world-writable directory outside the workspace stays untouched");
    assert!(j["outcome"]["stderr"].as_str().unwrap().contains("ermission denied"), "{j}");
}

#[test]
fn no_network_unless_asked() {
    if !common::require("python3") {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || for _ in listener.incoming() {});
    let env = env();
    let connect =
        format!("import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('connected')");
    let (code, j) = run_json(&env, &["python3", "-c", &connect]);
    assert_eq!(code, 1, "{j}");
    assert!(!j["outcome"]["stdout"].as_str().unwrap().contains("connected"));
    let (code, j) = run_json(&env, &["--network", "python3", "-c", &connect]);
    assert_eq!(code, 0, "--network allows it: {j}");
    assert!(j["outcome"]["stdout"].as_str().unwrap().contains("connected"));
}

#[test]
fn a_container_backend_without_docker_fails_clearly() {
    let mut env = env();
    env.set("SANDBOX_CONTAINER", "vuhitra-sandbox").set("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let r = env.run(&["run", "--", "true"]).fails_with(1);
    assert!(r.stderr.contains("vuhitra-sandbox") && r.stderr.contains("/nonexistent/docker.sock"), "{}", r.stderr);
    assert!(r.stderr.contains("SANDBOX_CONTAINER"), "the hint says how to run locally: {}", r.stderr);
}

/// `@upload` in chat copies the named files into the workspace before
/// anything else: alone it only uploads (no model is called — none is
/// reachable here), a file over the limit stops the prompt with nothing
/// registered, and without a file it is a usage error.
#[test]
fn upload_keyword_in_chat_copies_files_into_the_workspace() {
    let mut env = env();
    env.set("OLLAMA_IP", "http://127.0.0.1:9");
    env.file("notes.txt", "hello");
    env.file("more.txt", "more");
    let out = env.run(&["--json", "chat", "@upload @file:notes.txt"]).ok().json();
    assert_eq!(
        (out[0]["name"].clone(), out[0]["size"].clone()),
        (serde_json::json!("notes.txt"), serde_json::json!(5))
    );
    let r = env.run(&["chat", "-f", "more.txt", "@upload"]).ok();
    assert!(r.stdout.contains("uploaded more.txt (text, 4 B)"), "{}", r.stdout);
    assert_eq!(workspace_entries(&env), ["more.txt", "notes.txt"]);

    // With a question the upload comes first, then the model call (which fails here).
    env.file("third.txt", "third");
    let r = env.run(&["chat", "@upload @file:third.txt what is in it?"]).fails_with(1);
    assert!(r.stderr.contains("uploaded third.txt") && r.stderr.contains("unreachable"), "{}", r.stderr);
    assert_eq!(workspace_entries(&env), ["more.txt", "notes.txt", "third.txt"]);

    env.set("MAX_UPLOADED_FILE_SIZE", "4");
    env.file("big.txt", "0123456789");
    let r = env.run(&["chat", "@upload @file:big.txt summarise this"]).fails_with(2);
    assert!(r.stderr.contains("big.txt"), "{}", r.stderr);
    assert_eq!(workspace_entries(&env), ["more.txt", "notes.txt", "third.txt"]);
    assert_eq!(env.run(&["--json", "files", "list"]).ok().json().as_array().unwrap().len(), 3);

    let r = env.run(&["chat", "@upload hello"]).fails_with(2);
    assert!(r.stderr.contains("@upload needs a file"), "{}", r.stderr);
}

#[test]
fn files_get_copies_an_upload_or_a_jobs_output_back_out_and_refuses_paths_outside() {
    let env = TestEnv::with_sandbox_workspace();
    let src = env.file("sales.csv", "region,amount\nnorth,10\n");
    env.run(&["upload", src.to_str().unwrap(), "--as", "q3.csv"]).ok();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("copy.csv");
    env.run(&["files", "get", "q3.csv", "-o", out.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "region,amount\nnorth,10\n");

    // An existing file is kept unless --force; a directory takes the name.
    let r = env.run(&["files", "get", "q3.csv", "-o", out.to_str().unwrap()]).fails_with(2);
    assert!(r.stderr.contains("exists") && r.stderr.contains("--force"), "{}", r.stderr);
    env.run(&["files", "get", "q3.csv", "-o", out.to_str().unwrap(), "--force"]).ok();
    env.run(&["files", "get", "q3.csv", "-o", out_dir.path().to_str().unwrap()]).ok();
    assert!(out_dir.path().join("q3.csv").is_file());
    let r = env.run(&["files", "get", "q3.csv", "-o", "-"]).ok();
    assert_eq!(r.stdout, "region,amount\nnorth,10\n");
    let leftovers: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left: {leftovers:?}");

    // A job's output, which was never uploaded.
    env.run(&["run", "--", "sh", "-c", "mkdir -p out && echo 42 > out/answer.txt"]).ok();
    let r = env.run(&["files", "get", "out/answer.txt", "-o", "-"]).ok();
    assert_eq!(r.stdout.trim(), "42");

    let ws = env.home.path().join("workspace");
    std::os::unix::fs::symlink("/etc/hostname", ws.join("link.txt")).unwrap();
    for (bad, why) in [
        ("../vuhitra.db", "no `..`"),
        ("/etc/hostname", "absolute"),
        ("link.txt", "symbolic link"),
        ("out", "not a regular file"),
        ("missing.csv", "no such file"),
    ] {
        let r = env.run(&["files", "get", bad, "-o", "-"]).fails_with(2);
        assert!(r.stderr.contains(why), "{bad}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}

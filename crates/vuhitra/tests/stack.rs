//! The compose stack: `docker-compose config` (Debian's docker-compose; no
//! engine is needed to validate) and a structural check of the file.

mod common;

use std::process::Command;

use serde_yaml::Value;

fn compose_file() -> Value {
    let text = std::fs::read_to_string(common::repo_root().join("docker-compose.yml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// Runs docker-compose in a copy of the stack files with `.env` made from
/// the template (plus `extra` lines).
fn compose(args: &[&str], extra_env: &str) -> Option<common::Run> {
    if !common::require("docker-compose") {
        return None;
    }
    let root = common::repo_root();
    let dir = tempfile::tempdir().unwrap();
    // The stack files and build contexts, without the user's own .env.
    for file in ["docker-compose.yml", "cli/Dockerfile", "docker/sandbox/Dockerfile"] {
        let to = dir.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root.join(file), to).unwrap();
    }
    let template = std::fs::read_to_string(root.join(".env.template")).unwrap();
    std::fs::write(dir.path().join(".env"), format!("{template}\n{extra_env}")).unwrap();
    let mut cmd = Command::new("docker-compose");
    for k in vuhitra_core::config::KEYS {
        cmd.env_remove(k.name);
    }
    let out = cmd.current_dir(dir.path()).args(args).output().unwrap();
    Some(common::Run::from(out))
}

#[test]
fn compose_config_validates_with_env_from_the_template() {
    let Some(r) = compose(&["config", "-q"], "") else { return };
    assert_eq!(r.code, 0, "docker-compose config failed:\n{}", r.stderr);
}

#[test]
fn compose_lists_the_five_seed_services() {
    let Some(r) = compose(&["config", "--services"], "") else { return };
    let mut services: Vec<&str> = r.stdout.lines().collect();
    services.sort();
    assert_eq!(services, ["cli", "elasticsearch", "redis", "sandbox", "spark"], "{}", r.stderr);
}

#[test]
fn ollama_ip_is_interpolated_from_env() {
    let Some(r) = compose(&["config"], "") else { return };
    assert!(r.stdout.contains("OLLAMA_IP: http://host.docker.internal:11434"), "default for the stack:\n{}", r.stdout);
    let Some(r) = compose(&["config"], "OLLAMA_IP=http://gpu-box:11434\nMODEL=qwen2.5-coder:7b\n") else { return };
    assert!(r.stdout.contains("OLLAMA_IP: http://gpu-box:11434"), "{}", r.stdout);
    assert!(r.stdout.contains("MODEL: qwen2.5-coder:7b"), "{}", r.stdout);
}

#[test]
fn structure_health_checks_volumes_network_and_dependencies() {
    let c = compose_file();
    assert!(c.get("version").is_none(), "the obsolete version: key is dropped");
    let services = c["services"].as_mapping().unwrap();
    for name in ["cli", "redis", "elasticsearch", "spark", "sandbox"] {
        let s = &c["services"][name];
        assert!(s.is_mapping(), "service {name} missing");
        let nets: Vec<&str> = s["networks"].as_sequence().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        assert_eq!(nets, ["vuhitra-network"], "{name} is on the stack network");
    }
    assert_eq!(services.len(), 5);

    let redis_hc: Vec<&str> = c["services"]["redis"]["healthcheck"]["test"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(redis_hc, ["CMD", "redis-cli", "ping"]);
    let es_hc = serde_yaml::to_string(&c["services"]["elasticsearch"]["healthcheck"]["test"]).unwrap();
    assert!(es_hc.contains("_cluster/health"), "{es_hc}");
    assert_eq!(c["services"]["elasticsearch"]["environment"]["discovery.type"], "single-node");
    assert_eq!(c["services"]["elasticsearch"]["environment"]["xpack.security.enabled"], "false");

    let deps = &c["services"]["cli"]["depends_on"];
    assert_eq!(deps["redis"]["condition"], "service_healthy");
    assert_eq!(deps["elasticsearch"]["condition"], "service_healthy");
    assert_eq!(deps["spark"]["condition"], "service_started");

    let hosts = serde_yaml::to_string(&c["services"]["cli"]["extra_hosts"]).unwrap();
    assert!(hosts.contains("host.docker.internal:host-gateway"), "Linux hosts need host-gateway to reach Ollama");

    let vols = |svc: &str| -> Vec<String> {
        c["services"][svc]["volumes"].as_sequence().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    assert!(vols("cli").contains(&"sandbox-workspace:/workspace".to_string()));
    assert!(
        vols("sandbox").contains(&"sandbox-workspace:/workspace".to_string()),
        "cli and sandbox share the workspace"
    );
    assert!(vols("redis").contains(&"redis-data:/data".to_string()));
    assert!(vols("elasticsearch").iter().any(|v| v.starts_with("elasticsearch-data:")));
    assert!(vols("cli").iter().any(|v| v.starts_with("cli-cache:")));
    for v in ["redis-data", "elasticsearch-data", "sandbox-workspace", "cli-cache"] {
        assert!(c["volumes"].get(v).is_some(), "volume {v} declared");
    }
    assert_eq!(c["networks"]["vuhitra-network"]["driver"], "bridge");
    assert_eq!(c["services"]["redis"]["image"], "redis:7.2-alpine");
    assert_eq!(c["services"]["elasticsearch"]["image"], "docker.elastic.co/elasticsearch/elasticsearch:8.11.0");

    // Every debug port is published on loopback only.
    for svc in ["redis", "elasticsearch", "spark"] {
        for p in c["services"][svc]["ports"].as_sequence().unwrap() {
            assert!(p.as_str().unwrap().starts_with("127.0.0.1:"), "{svc} port {p:?} must bind loopback");
        }
    }
}

#[test]
fn dockerfiles_follow_the_plan() {
    let root = common::repo_root();
    let cli = std::fs::read_to_string(root.join("cli/Dockerfile")).unwrap();
    assert!(cli.matches("\nFROM ").count() + usize::from(cli.starts_with("FROM ")) >= 2, "multi-stage");
    assert!(cli.contains("--mount=type=cache,target=/usr/local/cargo/registry"), "BuildKit cache for the registry");
    assert!(cli.contains("--mount=type=cache,target=/src/target"), "BuildKit cache for the target dir");
    assert!(cli.contains("\nUSER vuhitra"), "non-root runtime");
    assert!(cli.contains("HEALTHCHECK"));
    assert!(cli.contains("ENTRYPOINT [\"vuhitra\"]"));
    let sandbox = std::fs::read_to_string(root.join("docker/sandbox/Dockerfile")).unwrap();
    assert!(sandbox.contains("FROM alpine"));
    assert!(sandbox.contains("python3"));
    assert!(sandbox.contains("\nUSER sandbox"));
    assert!(sandbox.contains("WORKDIR /workspace"));
    assert!(sandbox.contains("tail\", \"-f\", \"/dev/null"));
}

#[test]
fn env_is_git_ignored() {
    let ignore = std::fs::read_to_string(common::repo_root().join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == ".env"));
}

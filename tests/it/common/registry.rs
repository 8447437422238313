//! A real Docker distribution registry (Debian's `docker-registry`) on a free 127.0.0.1 port, with
//! its storage in a temporary directory, optionally behind htpasswd basic auth; and a tiny
//! HTTP/1.1 client so tests can look into it or put what skiff cannot push (an image index).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::Test;

pub struct Registry {
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub user: Option<(String, String)>,
    dir: tempfile::TempDir,
    process: Child,
}

fn installed() -> bool {
    std::path::Path::new("/usr/bin/docker-registry").exists()
}

impl Registry {
    /// A plain registry, or None (after a skip) where it cannot run here.
    pub fn try_start(test: Test) -> Option<Registry> {
        Self::try_start_inner(test, None)
    }

    /// A registry that wants basic auth as `user`/`password`.
    pub fn try_start_with_auth(test: Test, user: &str, password: &str) -> Option<Registry> {
        Self::try_start_inner(test, Some((user.to_string(), password.to_string())))
    }

    fn try_start_inner(test: Test, user: Option<(String, String)>) -> Option<Registry> {
        if !installed() {
            test.skip("docker-registry is not installed (package docker-registry)");
            return None;
        }
        if user.is_some() && Command::new("htpasswd").arg("-h").output().is_err() {
            test.skip("htpasswd is not installed (package apache2-utils)");
            return None;
        }
        for _ in 0..5 {
            if let Some(registry) = Self::start_once(user.clone()) {
                return Some(registry);
            }
        }
        panic!("docker-registry did not start");
    }

    fn start_once(user: Option<(String, String)>) -> Option<Registry> {
        let dir = tempfile::Builder::new()
            .prefix("skiff-registry-")
            .tempdir()
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        if let Some((name, password)) = &user {
            let out = Command::new("htpasswd")
                .args(["-Bbn", name, password])
                .output()
                .unwrap();
            assert!(out.status.success(), "htpasswd failed");
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, &out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: skiff-test\n    path: {}\n",
                file.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let process = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut registry = Registry {
            addr,
            user,
            dir,
            process,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = registry.process.try_wait() {
                return None; // the port was taken meanwhile: try another
            }
            if let Ok((status, _)) = registry.try_request("GET", "/v2/", None, &[]) {
                if status == 200 || status == 401 {
                    return Some(registry);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Where the filesystem driver keeps a blob's bytes.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage_dir()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    pub fn http_get(&self, path: &str) -> (u16, Vec<u8>) {
        self.try_request(
            "GET",
            path,
            None,
            &[(
                "Accept",
                "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json",
            )],
        )
        .unwrap()
    }

    pub fn http_put(&self, path: &str, content_type: &str, body: &[u8]) -> u16 {
        self.try_request("PUT", path, Some(body), &[("Content-Type", content_type)])
            .unwrap()
            .0
    }

    fn try_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let mut stream = TcpStream::connect(&self.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some((user, password)) = &self.user {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request.push_str(&format!("Authorization: Basic {token}\r\n"));
        }
        let body = body.unwrap_or_default();
        request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(request.as_bytes())?;
        stream.write_all(body)?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no HTTP header"))?;
        let head = String::from_utf8_lossy(&response[..split]).to_string();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("no status"))?;
        let mut payload = response[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            payload = dechunk(&payload);
        }
        Ok((status, payload))
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

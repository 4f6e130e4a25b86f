//! A minimal QMP client over a Unix socket: read the greeting, negotiate
//! capabilities, run one command, skip asynchronous events. Used to ask
//! qemu-storage-daemon to `quit`, which flushes and closes every image before the
//! process exits.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

/// Why a QMP exchange failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QmpError {
    /// Connecting, reading or writing failed.
    #[error("qmp socket {0}")]
    Io(&'static str, #[source] std::io::Error),
    /// The peer closed the connection before answering.
    #[error("qmp connection closed before {0}")]
    Closed(&'static str),
    /// The peer said something that is not QMP.
    #[error("qmp: unexpected reply {0:?}")]
    Protocol(String),
    /// The command failed; QMP's error class and description.
    #[error("qmp command failed: {0}")]
    Command(String),
}

/// One QMP session.
pub(crate) struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connect, read the greeting and leave capabilities negotiation mode.
    pub(crate) fn connect(socket: &Path, timeout: Duration) -> Result<Self, QmpError> {
        let stream = UnixStream::connect(socket).map_err(|e| QmpError::Io("connect", e))?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .map_err(|e| QmpError::Io("set timeout", e))?;
        let writer = stream.try_clone().map_err(|e| QmpError::Io("clone", e))?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = qmp.read_message("the greeting")?;
        if greeting.get("QMP").is_none() {
            return Err(QmpError::Protocol(greeting.to_string()));
        }
        qmp.execute("qmp_capabilities")?;
        Ok(qmp)
    }

    fn read_message(&mut self, what: &'static str) -> Result<Value, QmpError> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .map_err(|e| QmpError::Io("read", e))?;
        if n == 0 {
            return Err(QmpError::Closed(what));
        }
        serde_json::from_str(&line).map_err(|_| QmpError::Protocol(line.trim().to_string()))
    }

    /// Run `command` (no arguments) and return its `return` value.
    pub(crate) fn execute(&mut self, command: &'static str) -> Result<Value, QmpError> {
        self.execute_with(command, Value::Null)
    }

    /// Run `command` with `arguments` (none when `Null`) and return its `return`
    /// value.
    pub(crate) fn execute_with(
        &mut self,
        command: &'static str,
        arguments: Value,
    ) -> Result<Value, QmpError> {
        let mut msg = if arguments.is_null() {
            json!({ "execute": command })
        } else {
            json!({ "execute": command, "arguments": arguments })
        }
        .to_string();
        msg.push('\n');
        self.writer
            .write_all(msg.as_bytes())
            .map_err(|e| QmpError::Io("write", e))?;
        loop {
            let reply = self.read_message(command)?;
            if let Some(r) = reply.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = reply.get("error") {
                let class = e.get("class").and_then(Value::as_str).unwrap_or("");
                let desc = e.get("desc").and_then(Value::as_str).unwrap_or("");
                return Err(QmpError::Command(format!("{class}: {desc}")));
            }
            if reply.get("event").is_none() {
                return Err(QmpError::Protocol(reply.to_string()));
            }
        }
    }
}

/// One node of qemu's block graph: its node name, its driver, and the file name
/// qemu reports for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockNode {
    pub(crate) name: String,
    pub(crate) driver: String,
    pub(crate) file: String,
}

/// Every node of the server's block graph (`query-named-block-nodes`, flat),
/// including the ones qemu made itself (a vmdk's extent files, `#blockNNN`).
pub(crate) fn block_nodes(socket: &Path, timeout: Duration) -> Result<Vec<BlockNode>, QmpError> {
    let mut qmp = Qmp::connect(socket, timeout)?;
    let reply = qmp.execute_with("query-named-block-nodes", json!({ "flat": true }))?;
    let nodes = reply
        .as_array()
        .ok_or_else(|| QmpError::Protocol(reply.to_string()))?;
    nodes
        .iter()
        .map(|n| {
            let field = |k: &str| n.get(k).and_then(Value::as_str).map(str::to_string);
            match (field("node-name"), field("drv"), field("file")) {
                (Some(name), Some(driver), Some(file)) => Ok(BlockNode { name, driver, file }),
                _ => Err(QmpError::Protocol(n.to_string())),
            }
        })
        .collect()
}

/// The virtual size (bytes) of block node `node`, from `query-named-block-nodes`.
pub(crate) fn virtual_size(qmp: &mut Qmp, node: &str) -> Result<u64, QmpError> {
    let reply = qmp.execute_with("query-named-block-nodes", json!({ "flat": true }))?;
    reply
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n.get("node-name").and_then(Value::as_str) == Some(node))
        .and_then(|n| n.pointer("/image/virtual-size"))
        .and_then(Value::as_u64)
        .ok_or_else(|| QmpError::Protocol(format!("no virtual size for node {node}: {reply}")))
}

/// Run a job-starting `command` with `arguments` (which hold its `job-id`) and
/// wait until the job concludes, polling `query-jobs`; a job that ends with an
/// error is a [`QmpError::Command`]. The concluded job is dismissed.
pub(crate) fn run_job(
    qmp: &mut Qmp,
    command: &'static str,
    arguments: Value,
    timeout: Duration,
) -> Result<(), QmpError> {
    let id = arguments
        .get("job-id")
        .and_then(Value::as_str)
        .ok_or_else(|| QmpError::Protocol(format!("{command} without a job-id")))?
        .to_string();
    qmp.execute_with(command, arguments)?;
    let deadline = std::time::Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    loop {
        let jobs = qmp.execute("query-jobs")?;
        let job = jobs
            .as_array()
            .into_iter()
            .flatten()
            .find(|j| j.get("id").and_then(Value::as_str) == Some(id.as_str()))
            .cloned()
            .ok_or_else(|| QmpError::Protocol(format!("job {id} vanished: {jobs}")))?;
        if job.get("status").and_then(Value::as_str) == Some("concluded") {
            qmp.execute_with("job-dismiss", json!({ "id": id }))?;
            return match job.get("error").and_then(Value::as_str) {
                Some(e) => Err(QmpError::Command(format!("job {id}: {e}"))),
                None => Ok(()),
            };
        }
        if std::time::Instant::now() >= deadline {
            return Err(QmpError::Command(format!(
                "job {id} did not conclude within {timeout:?}"
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Ask the QMP server on `socket` to quit. A connection closed right after the
/// command was sent counts as success: the server may exit before replying.
pub(crate) fn quit(socket: &Path, timeout: Duration) -> Result<(), QmpError> {
    let mut qmp = Qmp::connect(socket, timeout)?;
    match qmp.execute("quit") {
        Ok(_) | Err(QmpError::Closed(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A scripted QMP server: sends `greeting`, then answers each line it reads
    /// with the next entry of `replies` (several lines each), recording requests.
    fn server(
        dir: &Path,
        replies: Vec<&'static str>,
    ) -> (std::path::PathBuf, std::thread::JoinHandle<Vec<String>>) {
        let path = dir.join("qmp.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut w = stream.try_clone().unwrap();
            let mut r = BufReader::new(stream);
            w.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
                .unwrap();
            let mut seen = Vec::new();
            for reply in replies {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                seen.push(line.trim().to_string());
                w.write_all(reply.as_bytes()).unwrap();
            }
            seen
        });
        (path, handle)
    }

    #[test]
    fn quit_negotiates_then_quits_skipping_events() {
        let dir = tempfile::tempdir().unwrap();
        let (path, h) = server(
            dir.path(),
            vec![
                "{\"return\": {}}\n",
                "{\"event\": \"BLOCK_EXPORT_DELETED\", \"data\": {}}\n{\"return\": {}}\n",
            ],
        );
        quit(&path, Duration::from_secs(5)).unwrap();
        assert_eq!(
            h.join().unwrap(),
            [r#"{"execute":"qmp_capabilities"}"#, r#"{"execute":"quit"}"#]
        );
    }

    #[test]
    fn block_nodes_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let (sock, h) = server(
            dir.path(),
            vec![
                "{\"return\": {}}\n",
                "{\"return\": [{\"node-name\": \"#block043\", \"drv\": \"file\", \"file\": \"/i/d-flat.vmdk\", \"ro\": true}, \
                 {\"node-name\": \"vmcraft-disk\", \"drv\": \"vmdk\", \"file\": \"/i/d.vmdk\"}]}\n",
            ],
        );
        let nodes = block_nodes(&sock, Duration::from_secs(5)).unwrap();
        assert_eq!(
            nodes[0],
            BlockNode {
                name: "#block043".into(),
                driver: "file".into(),
                file: "/i/d-flat.vmdk".into()
            }
        );
        assert_eq!(nodes.len(), 2);
        let seen = h.join().unwrap();
        assert_eq!(
            seen[1],
            r#"{"arguments":{"flat":true},"execute":"query-named-block-nodes"}"#
        );
    }

    #[test]
    fn quit_tolerates_a_close_without_reply() {
        let dir = tempfile::tempdir().unwrap();
        let (path, h) = server(dir.path(), vec!["{\"return\": {}}\n", ""]);
        quit(&path, Duration::from_secs(5)).unwrap();
        h.join().unwrap();
    }

    #[test]
    fn command_errors_and_garbage_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (path, h) = server(
            dir.path(),
            vec![
                "{\"return\": {}}\n",
                "{\"error\": {\"class\": \"GenericError\", \"desc\": \"nope\"}}\n",
            ],
        );
        let e = quit(&path, Duration::from_secs(5)).unwrap_err();
        assert_eq!(e.to_string(), "qmp command failed: GenericError: nope");
        h.join().unwrap();

        let (path, h) = {
            let dir2 = dir.path().join("b");
            std::fs::create_dir(&dir2).unwrap();
            server(&dir2, vec!["not json\n"])
        };
        let e = quit(&path, Duration::from_secs(5)).unwrap_err();
        assert!(
            matches!(e, QmpError::Protocol(ref s) if s == "not json"),
            "{e}"
        );
        h.join().unwrap();

        let e = quit(&dir.path().join("missing.sock"), Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().starts_with("qmp socket connect"), "{e}");
    }
}

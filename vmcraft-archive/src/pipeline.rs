//! Compression and decompression on a thread of their own, so that they overlap
//! with walking or extracting the tree (what GNU tar gets by running `xz` or
//! `gzip -d` as a separate process).
//!
//! [`ReadAhead`] runs a decompressor on a thread and hands its output over in
//! chunks; [`WriteBehind`] takes the tar stream in chunks and compresses it on a
//! thread into the output file. Both recycle their buffers and hold a bounded
//! number of chunks, so memory stays at a few MiB whatever the archive's size.
//! A failure on the thread comes back to the caller as the error of its next
//! read, its next write or its `finish_stream`.

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::compress::FinishWrite;

/// Bytes per chunk handed between the threads.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the threads.
const DEPTH: usize = 4;

/// The reading end of a decompressor running on its own thread.
pub(crate) struct ReadAhead {
    chunks: Option<Receiver<io::Result<Vec<u8>>>>,
    free: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
    /// The stream failed: every later read fails too.
    failed: bool,
    thread: Option<JoinHandle<()>>,
}

impl ReadAhead {
    /// Start `open` on a new thread and read what the reader it makes yields.
    pub(crate) fn spawn<F>(open: F) -> io::Result<ReadAhead>
    where
        F: FnOnce() -> io::Result<Box<dyn Read>> + Send + 'static,
    {
        let (tx, chunks) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
        let (free, free_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);
        let thread = std::thread::Builder::new()
            .name("vmcraft-unpack".into())
            .spawn(move || produce(open, &tx, &free_rx))?;
        Ok(ReadAhead {
            chunks: Some(chunks),
            free,
            cur: Vec::new(),
            pos: 0,
            done: false,
            failed: false,
            thread: Some(thread),
        })
    }
}

/// The decompressing thread: fill chunks until the end, an error, or the reader
/// goes away.
fn produce<F>(open: F, tx: &SyncSender<io::Result<Vec<u8>>>, free: &Receiver<Vec<u8>>)
where
    F: FnOnce() -> io::Result<Box<dyn Read>>,
{
    let mut input = match open() {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(Err(e));
            return;
        }
    };
    loop {
        let mut buf = free.try_recv().unwrap_or_default();
        buf.resize(CHUNK, 0);
        let mut len = 0;
        while len < CHUNK {
            match input.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
        buf.truncate(len);
        // An empty chunk is the end; a send fails when the reader is gone.
        if tx.send(Ok(buf)).is_err() || len == 0 {
            return;
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.failed {
                return Err(io::Error::other("the stream failed before"));
            }
            if self.done || out.is_empty() {
                return Ok(0);
            }
            let next = self.chunks.as_ref().and_then(|rx| rx.recv().ok());
            match next {
                Some(Ok(chunk)) => {
                    let old = std::mem::replace(&mut self.cur, chunk);
                    let _ = self.free.try_send(old);
                    self.pos = 0;
                    self.done = self.cur.is_empty();
                }
                Some(Err(e)) => {
                    self.failed = true;
                    return Err(e);
                }
                None => {
                    self.failed = true;
                    return Err(io::Error::other("the decompressing thread stopped"));
                }
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing the channel stops the thread at its next chunk.
        self.chunks.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writing end of a compressor running on its own thread.
pub(crate) struct WriteBehind {
    chunks: Option<SyncSender<Vec<u8>>>,
    free: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl WriteBehind {
    /// Start `open` on a new thread; what is written here goes, in chunks, to
    /// the writer it makes, which is finished by [`FinishWrite::finish_stream`].
    pub(crate) fn spawn<F>(open: F) -> io::Result<WriteBehind>
    where
        F: FnOnce() -> io::Result<Box<dyn FinishWrite>> + Send + 'static,
    {
        let (chunks, rx) = sync_channel::<Vec<u8>>(DEPTH);
        let (free_tx, free) = sync_channel::<Vec<u8>>(DEPTH + 2);
        let thread = std::thread::Builder::new()
            .name("vmcraft-pack".into())
            .spawn(move || -> io::Result<()> {
                let mut out = open()?;
                for mut chunk in rx {
                    out.write_all(&chunk)?;
                    chunk.clear();
                    let _ = free_tx.try_send(chunk);
                }
                out.finish_stream()
            })?;
        Ok(WriteBehind {
            chunks: Some(chunks),
            free,
            buf: Vec::with_capacity(CHUNK),
            thread: Some(thread),
        })
    }

    /// The thread's own error, once it has stopped.
    fn thread_error(&mut self) -> io::Error {
        self.chunks.take();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => io::Error::other("the compressing thread panicked"),
            _ => io::Error::other("the compressing thread stopped"),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut next = self.free.try_recv().unwrap_or_default();
        next.reserve(CHUNK);
        let full = std::mem::replace(&mut self.buf, next);
        let sent = match &self.chunks {
            Some(tx) => tx.send(full).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.thread_error())
        }
    }
}

impl Write for WriteBehind {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // The stream is flushed as a whole by finish_stream.
        Ok(())
    }
}

impl FinishWrite for WriteBehind {
    fn finish_stream(mut self: Box<Self>) -> io::Result<()> {
        self.send()?;
        self.chunks.take();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the compressing thread panicked")),
            None => Err(io::Error::other("the compressing thread stopped")),
        }
    }
}

impl Drop for WriteBehind {
    fn drop(&mut self) {
        self.chunks.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn read_ahead_yields_every_byte_in_order() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, CHUNK * DEPTH * 3 + 17] {
            let data = pattern(len);
            let src = data.clone();
            let mut r = ReadAhead::spawn(move || Ok(Box::new(io::Cursor::new(src)) as _)).unwrap();
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got.len(), data.len());
            assert!(got == data, "len {len}");
        }
    }

    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt input"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(1);
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn read_ahead_passes_errors_on() {
        let mut r = ReadAhead::spawn(|| Ok(Box::new(Failing(3 * CHUNK + 5)) as _)).unwrap();
        let e = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(
            r.read(&mut [0; 8]).is_err(),
            "a failed stream must not end cleanly"
        );
        let mut r = ReadAhead::spawn(|| Err(io::Error::other("cannot open"))).unwrap();
        assert!(r.read(&mut [0; 8]).is_err());
    }

    #[test]
    fn dropping_a_read_ahead_early_stops_its_thread() {
        let mut r = ReadAhead::spawn(|| Ok(Box::new(io::repeat(3)) as _)).unwrap();
        let mut b = [0u8; 10];
        r.read_exact(&mut b).unwrap();
        assert_eq!(b, [3; 10]);
        drop(r); // joins: would hang if the thread kept going
    }

    /// A FinishWrite into shared memory, optionally failing after some bytes.
    struct Sink(Arc<Mutex<Vec<u8>>>, Option<usize>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let mut v = self.0.lock().unwrap();
            if self.1.is_some_and(|limit| v.len() + b.len() > limit) {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            v.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl FinishWrite for Sink {
        fn finish_stream(self: Box<Self>) -> io::Result<()> {
            self.0.lock().unwrap().extend_from_slice(b"END");
            Ok(())
        }
    }

    #[test]
    fn write_behind_writes_every_byte_then_finishes() {
        for len in [0, 5, CHUNK, CHUNK * DEPTH * 3 + 17] {
            let out = Arc::new(Mutex::new(Vec::new()));
            let o = Arc::clone(&out);
            let mut w =
                Box::new(WriteBehind::spawn(move || Ok(Box::new(Sink(o, None)) as _)).unwrap());
            let data = pattern(len);
            for piece in data.chunks(777) {
                w.write_all(piece).unwrap();
            }
            w.finish_stream().unwrap();
            let got = out.lock().unwrap();
            assert_eq!(got.len(), len + 3);
            assert!(got[..len] == data[..] && &got[len..] == b"END", "len {len}");
        }
    }

    #[test]
    fn write_behind_reports_the_threads_error() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let o = Arc::clone(&out);
        let mut w = Box::new(
            WriteBehind::spawn(move || Ok(Box::new(Sink(o, Some(CHUNK + 1))) as _)).unwrap(),
        );
        let data = pattern(CHUNK * (DEPTH + 4));
        let r = w.write_all(&data).and_then(|()| w.finish_stream());
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::StorageFull);
        let w = Box::new(WriteBehind::spawn(|| Err(io::Error::other("cannot create"))).unwrap());
        assert!(w.finish_stream().is_err());
    }
}

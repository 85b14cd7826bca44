//! A `tracing_subscriber` writer for stderr that keeps log lines from being
//! drawn over by the live bars.

use std::io::Write;

use indicatif::MultiProgress;

/// A `tracing_subscriber` writer for stderr that suspends the bars while
/// writing a line.
#[derive(Clone, Debug)]
pub struct LogWriter {
    multi: Option<MultiProgress>,
}

impl LogWriter {
    /// A writer suspending the bars of `multi` (`None`: no bars, plain
    /// stderr).
    pub fn new(multi: Option<MultiProgress>) -> Self {
        Self { multi }
    }
}

/// One log line being written (flushed on drop).
pub struct LogLine {
    multi: Option<MultiProgress>,
    buf: Vec<u8>,
}

impl Write for LogLine {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        let write = move || {
            let _ = std::io::stderr().write_all(&buf);
        };
        match &self.multi {
            Some(multi) => multi.suspend(write),
            None => write(),
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> Self::Writer {
        LogLine {
            multi: self.multi.clone(),
            buf: Vec::new(),
        }
    }
}

//! Reading a password for `panoptes user add`: prompted twice on a terminal, else the first
//! line of stdin (bounded), so scripts can pipe it.

use std::io::{BufRead, IsTerminal};

/// The password from a prompt (terminal) or the first line of stdin (scripts).
pub fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let second = rpassword::prompt_password("Repeat: ").map_err(|e| e.to_string())?;
        if first != second {
            return Err("the passwords do not match".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

trait TakeLine {
    fn take_line(&mut self, buf: &mut String) -> std::io::Result<usize>;
}

impl<R: BufRead> TakeLine for R {
    /// Reads one line, bounded so a stray pipe cannot exhaust memory.
    fn take_line(&mut self, buf: &mut String) -> std::io::Result<usize> {
        use std::io::Read;
        self.take(4096).read_line(buf)
    }
}

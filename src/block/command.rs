/*!
command backend (being written).
*/

use serde::Deserialize;

use super::{DenyList, Entry};
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// `[command]` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {}

pub struct Commands {
    #[allow(dead_code)] // being written
    settings: Settings,
}

impl Commands {
    pub fn new(settings: Settings) -> Result<Commands> {
        Ok(Commands { settings })
    }
}

impl DenyList for Commands {
    fn name(&self) -> &'static str {
        "command"
    }
    fn add(&mut self, _entries: &[Entry]) -> Result<()> {
        Err(Error::Runtime("command: not built yet".into()))
    }
    fn remove(&mut self, _ips: &[ClientIp]) -> Result<()> {
        Err(Error::Runtime("command: not built yet".into()))
    }
    fn members(&self) -> Result<Vec<ClientIp>> {
        Err(Error::Runtime("command: not built yet".into()))
    }
}

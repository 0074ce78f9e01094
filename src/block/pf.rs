/*!
pf backend (being written).
*/

use serde::Deserialize;

use super::{DenyList, Entry};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// `[pf]` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {}

pub struct Pf {
    #[allow(dead_code)] // being written
    settings: Settings,
}

impl Pf {
    pub fn new(settings: Settings, config: &Config) -> Pf {
        let _ = config;
        Pf { settings }
    }
}

impl DenyList for Pf {
    fn name(&self) -> &'static str {
        "pf"
    }
    fn add(&mut self, _entries: &[Entry]) -> Result<()> {
        Err(Error::Runtime("pf: not built yet".into()))
    }
    fn remove(&mut self, _ips: &[ClientIp]) -> Result<()> {
        Err(Error::Runtime("pf: not built yet".into()))
    }
    fn members(&self) -> Result<Vec<ClientIp>> {
        Err(Error::Runtime("pf: not built yet".into()))
    }
}

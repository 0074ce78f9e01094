/*!
route backend (being written).
*/

use serde::Deserialize;

use super::{DenyList, Entry};
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// `[route]` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {}

pub struct Routes {
    #[allow(dead_code)] // being written
    settings: Settings,
}

impl Routes {
    pub fn new(settings: Settings) -> Routes {
        Routes { settings }
    }
}

impl DenyList for Routes {
    fn name(&self) -> &'static str {
        "route"
    }
    fn add(&mut self, _entries: &[Entry]) -> Result<()> {
        Err(Error::Runtime("route: not built yet".into()))
    }
    fn remove(&mut self, _ips: &[ClientIp]) -> Result<()> {
        Err(Error::Runtime("route: not built yet".into()))
    }
    fn members(&self) -> Result<Vec<ClientIp>> {
        Err(Error::Runtime("route: not built yet".into()))
    }
}

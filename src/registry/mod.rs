//! Talking to registries: the distribution API client, credentials, and registries.conf.
//! Nothing here touches namespaces; pulls unpack through `image::` inside the user namespace.

pub mod auth;
pub mod client;
pub mod config;
mod http;

//! What a failed command ends with, whatever the command: the exit code Docker gives, and for a
//! host that lacks something, the pointer to `skiff system check`.

use crate::runtime;
use crate::store;

/// Docker's exit code for an error: 126/127 when the command could not be run, else 125.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<runtime::Error>())
        .map(|e| e.exit_code())
        .unwrap_or(125)
}

/// For an error caused by what the host lacks, the pointer to the doctor that says how to fix it.
pub fn prerequisite_hint(error: &anyhow::Error) -> &'static str {
    let host = error.chain().any(|cause| {
        cause
            .downcast_ref::<runtime::Error>()
            .is_some_and(|e| e.is_host_prerequisite())
            || matches!(
                cause.downcast_ref::<store::Error>(),
                Some(store::Error::RunRootUnusable { .. })
            )
    });
    match host {
        true => " (run `skiff system check` to see what this host lacks and how to fix it)",
        false => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_errors_carry_docker_exit_codes() {
        let not_found = anyhow::Error::new(runtime::Error::CommandNotFound { path: "x".into() })
            .context("running");
        assert_eq!(exit_code(&not_found), 127);
        assert_eq!(exit_code(&anyhow::anyhow!("boom")), 125);
    }

    #[test]
    fn only_what_the_host_lacks_points_to_the_doctor() {
        let no_pasta = anyhow::Error::new(runtime::Error::NoNetworkHelper).context("starting");
        assert!(prerequisite_hint(&no_pasta).contains("skiff system check"));
        assert_eq!(prerequisite_hint(&anyhow::anyhow!("boom")), "");
    }
}

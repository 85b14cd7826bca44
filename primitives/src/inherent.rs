//! The inherent that carries a block's trajectory proof
//! ([`crate::INHERENT_IDENTIFIER`]), and the node's provider of it.

use crate::TrajectoryProof;
#[cfg(feature = "std")]
use crate::INHERENT_IDENTIFIER;
#[cfg(feature = "std")]
use codec::Decode;

/// The inherent data of a block: the proof of its trajectory claim.
pub type InherentProof = TrajectoryProof;

#[cfg(feature = "std")]
/// Node side: provides the trajectory proof as inherent data when authoring.
pub struct ProofInherentDataProvider(pub TrajectoryProof);

#[cfg(feature = "std")]
#[async_trait::async_trait]
impl sp_inherents::InherentDataProvider for ProofInherentDataProvider {
    async fn provide_inherent_data(
        &self,
        inherent_data: &mut sp_inherents::InherentData,
    ) -> Result<(), sp_inherents::Error> {
        inherent_data.put_data(INHERENT_IDENTIFIER, &self.0)
    }

    async fn try_handle_error(
        &self,
        identifier: &sp_inherents::InherentIdentifier,
        error: &[u8],
    ) -> Option<Result<(), sp_inherents::Error>> {
        if *identifier != INHERENT_IDENTIFIER {
            return None;
        }
        let message = <alloc::string::String as Decode>::decode(&mut &error[..])
            .unwrap_or_else(|_| "undecodable trajectory inherent error".into());
        Some(Err(sp_inherents::Error::Application(message.into())))
    }
}

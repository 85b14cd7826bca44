//! Builds the wasm runtime (set `SKIP_WASM_BUILD=1` to skip it for pallet-only work).
fn main() {
    #[cfg(feature = "std")]
    substrate_wasm_builder::WasmBuilder::build_using_defaults();
}

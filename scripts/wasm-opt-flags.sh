# The wasm-opt flags of every wasm this project ships, in one place (sourced by the build and
# bench scripts). rustc's wasm32 target emits these features by default; wasm-opt must accept
# all of them. Shipped builds are cargo's opt-level 3 output run through -Oz (TOOLCHAIN.md).
WASM_FEATURES=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-exception-handling
  --enable-mutable-globals --enable-reference-types --enable-multivalue)
WASM_OPT_SHIP=(-Oz --strip-debug --strip-producers "${WASM_FEATURES[@]}")

//! Tests of apply_layer.

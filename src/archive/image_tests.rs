//! Tests of the image archive formats.

"""The TFLite layer: op declarations, the flatbuffer writer and reader."""

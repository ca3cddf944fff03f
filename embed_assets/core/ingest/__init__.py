"""From a collection folder to chunks: safe names, discovery, reading, BEIR files, chunking."""

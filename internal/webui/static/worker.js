// placeholder: replaced by the WebAssembly worker (server mode)

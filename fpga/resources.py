def estimate_resources(outdir): raise NotImplementedError

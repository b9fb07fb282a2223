"""the modules of cgrad.utils.benchmark, at torch.utils.benchmark.utils' paths"""

"""The forward pre-hooks that rewrite a module's tensor (pruning, weight_norm, spectral_norm)"""


def remove_tensor_hook(module, kind, name, tensor_of, missing):
    """Undo and drop module's forward pre-hook of class `kind` that rewrites tensor `name`
    (tensor_of(hook) names its tensor); ValueError(missing) if there is none. Returns module."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, kind) and tensor_of(hook) == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(missing)

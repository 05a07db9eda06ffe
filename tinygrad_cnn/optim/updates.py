"""Per-parameter update rules of RMSprop, Adagrad, Adadelta and Adam's amsgrad variant.

Written once against a backend's elementwise functions (be.add, be.mul, be.sqrt, ...) in
the parameter's dtype, each result written back in place with be.copy_into, so every
device runs the same maths; each follows torch.optim's single-tensor code line by line
(same operation order, so float32 rounds as torch's does).
"""


def _decayed(be, param, grad, weight_decay, maximize):
    """The gradient the rule sees: negated when maximizing, plus weight_decay * param."""
    dt = param.dtype.type
    if maximize:
        grad = be.neg(grad)
    if weight_decay != 0:
        grad = be.add(grad, be.mul(param, dt(weight_decay)))
    return grad


def _blend(be, avg, a, b, keep, add):
    """avg = avg * keep + add * a * b, in place (torch's mul_(keep).addcmul_(a, b, value=add))."""
    dt = avg.dtype.type
    be.copy_into(avg, be.add(be.mul(avg, dt(keep)), be.mul(be.mul(a, dt(add)), b)))


def _lerp(be, avg, end, weight):
    """avg = lerp(avg, end, weight) in place, by torch's two formulas (exact at both ends)."""
    dt = avg.dtype.type
    if weight < 0.5:
        be.copy_into(avg, be.add(avg, be.mul(be.sub(end, avg), dt(weight))))
    else:
        be.copy_into(avg, be.sub(end, be.mul(be.sub(end, avg), dt(1 - weight))))


def rmsprop_update(be, param, grad, state, lr, alpha, eps, weight_decay, momentum, centered,
                   maximize):
    """One torch.optim.RMSprop step in place; ``state`` holds square_avg (and grad_avg,
    momentum_buffer when used)."""
    dt = param.dtype.type
    grad = _decayed(be, param, grad, weight_decay, maximize)
    square_avg = state["square_avg"]
    _blend(be, square_avg, grad, grad, alpha, 1 - alpha)
    if centered:
        grad_avg = state["grad_avg"]
        _lerp(be, grad_avg, grad, 1 - alpha)
        avg = be.sqrt(be.sub(square_avg, be.mul(grad_avg, grad_avg)))
    else:
        avg = be.sqrt(square_avg)
    avg = be.add(avg, dt(eps))
    if momentum > 0:
        buf = state["momentum_buffer"]
        be.copy_into(buf, be.add(be.mul(buf, dt(momentum)), be.div(grad, avg)))
        be.copy_into(param, be.sub(param, be.mul(buf, dt(lr))))
    else:
        be.copy_into(param, be.sub(param, be.mul(be.div(grad, avg), dt(lr))))


def adagrad_update(be, param, grad, state, lr, lr_decay, weight_decay, eps, maximize):
    """One torch.optim.Adagrad step in place; state["step"] already counts this step."""
    dt = param.dtype.type
    grad = _decayed(be, param, grad, weight_decay, maximize)
    clr = lr / (1 + (state["step"] - 1) * lr_decay)
    total = state["sum"]
    be.copy_into(total, be.add(total, be.mul(grad, grad)))
    std = be.add(be.sqrt(total), dt(eps))
    be.copy_into(param, be.sub(param, be.mul(be.div(grad, std), dt(clr))))


def adadelta_update(be, param, grad, state, lr, rho, eps, weight_decay, maximize):
    """One torch.optim.Adadelta step in place (square_avg and acc_delta in ``state``)."""
    dt = param.dtype.type
    grad = _decayed(be, param, grad, weight_decay, maximize)
    square_avg, acc_delta = state["square_avg"], state["acc_delta"]
    _blend(be, square_avg, grad, grad, rho, 1 - rho)
    std = be.sqrt(be.add(square_avg, dt(eps)))
    delta = be.mul(be.div(be.sqrt(be.add(acc_delta, dt(eps))), std), grad)
    _blend(be, acc_delta, delta, delta, rho, 1 - rho)
    be.copy_into(param, be.sub(param, be.mul(delta, dt(lr))))


def adam_amsgrad_update(be, param, grad, state, lr, beta1, beta2, eps, weight_decay, decoupled):
    """One torch.optim.Adam(amsgrad=True) step in place: the denominator uses the running
    maximum of exp_avg_sq (state["max_exp_avg_sq"]); decoupled is AdamW's weight decay."""
    dt = param.dtype.type
    if weight_decay != 0:
        if decoupled:
            be.copy_into(param, be.mul(param, dt(1 - lr * weight_decay)))
        else:
            grad = be.add(grad, be.mul(param, dt(weight_decay)))
    exp_avg, exp_avg_sq, max_sq = state["exp_avg"], state["exp_avg_sq"], state["max_exp_avg_sq"]
    step = state["step"]
    _lerp(be, exp_avg, grad, 1 - beta1)
    _blend(be, exp_avg_sq, grad, grad, beta2, 1 - beta2)
    be.copy_into(max_sq, be.maximum(max_sq, exp_avg_sq))
    step_size = lr / (1 - beta1 ** step)
    denom = be.add(be.div(be.sqrt(max_sq), dt((1 - beta2 ** step) ** 0.5)), dt(eps))
    be.copy_into(param, be.sub(param, be.mul(be.div(exp_avg, denom), dt(step_size))))

"""The textbook LeNet of PyTorch's "Neural Networks" tutorial, trained by hand-written SGD.

Written for this suite against the calls the tutorial makes: `F.max_pool2d(c1, (2, 2))`,
`torch.flatten`, `out.backward(torch.randn(1, 10))`, `nn.MSELoss` with `target.view(1, -1)`,
`net.zero_grad()`, and the update `f.data.sub_(f.grad.data * learning_rate)`; plus the manual
loop users write next, `with torch.no_grad(): p -= lr * p.grad`, over batches of 32x32 digits
with `nn.CrossEntropyLoss`.
"""
# imports: begin
import tinygrad_cnn as torch
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
# imports: end


class Net(nn.Module):

    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, input):
        c1 = F.relu(self.conv1(input))
        s2 = F.max_pool2d(c1, (2, 2))
        c3 = F.relu(self.conv2(s2))
        s4 = F.max_pool2d(c3, 2)
        s4 = torch.flatten(s4, 1)
        f5 = F.relu(self.fc1(s4))
        f6 = F.relu(self.fc2(f5))
        output = self.fc3(f6)
        return output


def mse_step(net, input, target, learning_rate=0.01):
    """One tutorial step: MSE against a target, backward, the `.data.sub_` update."""
    net.zero_grad()
    output = net(input)
    target = target.view(1, -1)
    criterion = nn.MSELoss()
    loss = criterion(output, target)
    loss.backward()
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)
    return loss.item(), net.conv1.bias.grad.clone()


def random_gradient(net, input, gradient):
    net.zero_grad()
    out = net(input)
    out.backward(gradient)
    return [p.grad.clone() for p in net.parameters()]


def train(net, batches, learning_rate=0.05):
    criterion = nn.CrossEntropyLoss()
    losses = []
    for images, labels in batches:
        net.zero_grad()
        loss = criterion(net(images), labels)
        loss.backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= learning_rate * p.grad
        losses.append(loss.item())
    return losses

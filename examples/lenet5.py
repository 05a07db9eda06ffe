"""LeNet-5 (001) on the bundled MNIST sample, written out as a plain training loop.

    python examples/lenet5.py
"""
import numpy as np

import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import optim
from tinygrad_cnn.data import DataLoader, MNISTSample
from tinygrad_cnn.models import LeNet5


def main(epochs=3):
    tc.manual_seed(0)
    model = LeNet5()
    tc.summary(model, (1, 1, 28, 28))
    opt = optim.Adam(model.parameters(), lr=2e-3)
    train = DataLoader(MNISTSample(train=True), batch_size=64, shuffle=True, seed=0)
    test = DataLoader(MNISTSample(train=False), batch_size=500)
    for epoch in range(1, epochs + 1):
        model.train()
        for images, labels in train:
            opt.zero_grad()
            loss = F.cross_entropy(model(images), labels)   # forward, loss
            loss.backward()                                  # backward by the chain rule
            opt.step()                                       # update
        model.eval()
        with tc.no_grad():
            correct = sum(int((model(x).numpy().argmax(1) == y.numpy()).sum()) for x, y in test)
        print(f"epoch {epoch}: last batch loss {loss.item():.4f}, held-out accuracy "
              f"{correct / len(test.dataset):.4f}")


if __name__ == "__main__":
    main()

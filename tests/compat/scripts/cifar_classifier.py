"""The shape of PyTorch's "Training a Classifier" tutorial (CIFAR-10, 60-minute blitz).

Written for this suite against the calls the tutorial makes: a LeNet-like Net for 3x32x32
images with `nn.MaxPool2d(2, 2)` and `torch.flatten(x, 1)`, `nn.CrossEntropyLoss`, SGD with
momentum, a loop that unpacks `inputs, labels = data` and sums `loss.item()`, saving and
loading the state dict, `_, predicted = torch.max(outputs, 1)` and `torch.max(outputs.data, 1)`,
and per-class counts that index a tuple of names with a label tensor. The tutorial's CIFAR-10
download is replaced by loaders the caller passes (offline digits as 3x32x32 images).
"""
# imports: begin
import tinygrad_cnn as torch
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
import tinygrad_cnn.optim as optim
# imports: end

classes = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def make_training(net):
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    return criterion, optimizer


def train(net, trainloader, criterion, optimizer, epochs=2, every=2000):
    for epoch in range(epochs):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % every == every - 1:
                print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / every:.3f}')
                running_loss = 0.0
    print('Finished Training')


def save_and_reload(net, path):
    torch.save(net.state_dict(), path)
    net = Net()
    net.load_state_dict(torch.load(path, weights_only=True))
    return net


def first_predictions(net, testloader):
    dataiter = iter(testloader)
    images, labels = next(dataiter)
    outputs = net(images)
    _, predicted = torch.max(outputs, 1)
    return [classes[predicted[j]] for j in range(len(predicted))]


def evaluate(net, testloader):
    correct = 0
    total = 0
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f'Accuracy of the network on the {total} test images: {100 * correct // total} %')

    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1
    for classname, correct_count in correct_pred.items():
        accuracy = 100 * float(correct_count) / max(total_pred[classname], 1)
        print(f'Accuracy for class: {classname:5s} is {accuracy:.1f} %')
    device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')
    return correct, total, correct_pred, str(device)

"""The course notes' MNIST CNN (004_528930031f026b66.txt, section 3), as the notes write it.

The notes' code runs top to bottom; here its lines sit in functions so the tests can give it
data and a number of epochs. The lines themselves are the notes': `torch.Tensor(1, 1, 28, 28)`,
`torch.nn.Sequential` layers, `torch.nn.init.xavier_uniform_`, `CrossEntropyLoss().to(device)`,
`avg_cost += cost / total_batch`, the `{:>.9}` format of a tensor, and the evaluation through
`mnist_test.test_data.view(...).float()` and `torch.argmax(prediction, 1) == Y_test`.
"""
# imports: begin
import tinygrad_cnn as torch
import tinygrad_cnn.nn.init
# imports: end

device = 'cuda' if torch.cuda.is_available() else 'cpu'


class CNN(torch.nn.Module):

    def __init__(self):
        super(CNN, self).__init__()
        self.layer1 = torch.nn.Sequential(
            torch.nn.Conv2d(1, 32, kernel_size=3, stride=1, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(kernel_size=2, stride=2))
        self.layer2 = torch.nn.Sequential(
            torch.nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(kernel_size=2, stride=2))
        self.fc = torch.nn.Linear(7 * 7 * 64, 10, bias=True)
        torch.nn.init.xavier_uniform_(self.fc.weight)

    def forward(self, x):
        out = self.layer1(x)
        out = self.layer2(out)
        out = out.view(out.size(0), -1)
        out = self.fc(out)
        return out


def shapes():
    """The notes' walk through the layers' output shapes with an uninitialised input."""
    inputs = torch.Tensor(1, 1, 28, 28)
    conv1 = torch.nn.Conv2d(1, 32, 3, padding=1)
    pool = torch.nn.MaxPool2d(2)
    out = pool(conv1(inputs))
    return inputs.shape, out.shape


def setup(learning_rate=0.001):
    torch.manual_seed(777)
    if device == 'cuda':
        torch.cuda.manual_seed_all(777)
    model = CNN().to(device)
    criterion = torch.nn.CrossEntropyLoss().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    return model, criterion, optimizer


def make_loader(mnist_train, batch_size=100):
    return torch.utils.data.DataLoader(dataset=mnist_train, batch_size=batch_size,
                                       shuffle=True, drop_last=True)


def fit(model, criterion, optimizer, data_loader, training_epochs=15):
    total_batch = len(data_loader)
    print('총 배치의 수 : {}'.format(total_batch))
    for epoch in range(training_epochs):
        avg_cost = 0

        for X, Y in data_loader:
            X = X.to(device)
            Y = Y.to(device)

            optimizer.zero_grad()
            hypothesis = model(X)
            cost = criterion(hypothesis, Y)
            cost.backward()
            optimizer.step()

            avg_cost += cost / total_batch

        print('[Epoch: {:>4}] cost = {:>.9}'.format(epoch + 1, avg_cost))
    return avg_cost


def accuracy(model, mnist_test):
    with torch.no_grad():
        X_test = mnist_test.test_data.view(len(mnist_test), 1, 28, 28).float().to(device)
        Y_test = mnist_test.test_labels.to(device)

        prediction = model(X_test)
        correct_prediction = torch.argmax(prediction, 1) == Y_test
        accuracy = correct_prediction.float().mean()
        print('Accuracy:', accuracy.item())
    return accuracy.item()

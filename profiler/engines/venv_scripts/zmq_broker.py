"""A ZMQ XSUB/XPUB forwarder on 127.0.0.1 for Dynamo's event plane (`DYN_ZMQ_BROKER_URL`): without it Dynamo's
publishers bind every interface. Prints `XSUB_PORT XPUB_PORT` on one line, then forwards until stopped. Run with
the Dynamo virtualenv's python (pyzmq): `python profiler/engines/venv_scripts/zmq_broker.py`."""

import zmq

if __name__ == "__main__":
    context = zmq.Context()
    xsub, xpub = context.socket(zmq.XSUB), context.socket(zmq.XPUB)
    xsub_port = xsub.bind_to_random_port("tcp://127.0.0.1")
    xpub_port = xpub.bind_to_random_port("tcp://127.0.0.1")
    print(xsub_port, xpub_port, flush=True)
    zmq.proxy(xsub, xpub)

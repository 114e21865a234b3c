"""Make tests/data/keras2_adam_savedmodel: a tiny Keras 2 model saved as a SavedModel with its Adam state.

Run once with TensorFlow 2.15 (Keras 2), e.g. in a throwaway venv:
    python -m venv /tmp/tf215 && /tmp/tf215/bin/pip install tensorflow-cpu==2.15.1
    /tmp/tf215/bin/python tests/data/make_keras2_savedmodel.py
TF 2.21 without tf-keras cannot load the result ('_UserObject' object has no attribute 'add_slot').
Writes the SavedModel and reference.npz (inputs and Keras 2 outputs of both signatures).
"""

import os
import shutil

import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "keras2_adam_savedmodel")

tf.keras.utils.set_random_seed(0)
inp = tf.keras.Input((8, 8, 3), name="image")
x = tf.keras.layers.Conv2D(4, 3, padding="same", name="conv")(inp)
x = tf.keras.layers.BatchNormalization(name="bn")(x)
x = tf.keras.layers.ReLU(name="relu")(x)
x = tf.keras.layers.GlobalAveragePooling2D(name="gap")(x)
logits = tf.keras.layers.Dense(5, name="logits")(x)
out = tf.keras.layers.Softmax(name="probs")(logits)
model = tf.keras.Model(inp, out, name="tiny_keras2")
# The legacy (OptimizerV2) Adam is what Keras 2 used up to TF 2.10: its slots are what TF 2.21 cannot restore.
model.compile(optimizer=tf.keras.optimizers.legacy.Adam(1e-2), loss="sparse_categorical_crossentropy")
rng = np.random.default_rng(0)
xs = rng.standard_normal((16, 8, 8, 3)).astype(np.float32)
ys = rng.integers(0, 5, 16)
model.fit(xs, ys, epochs=1, batch_size=16, verbose=0)  # one step: the optimizer now has slot variables

logit_model = tf.keras.Model(inp, logits)


@tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32, name="image")])
def serving(image):
    return {"probs": model(image, training=False)}


@tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32, name="image")])
def logits_fn(image):
    return {"logits": logit_model(image, training=False)}


if os.path.exists(OUT):
    shutil.rmtree(OUT)
model.save(OUT, save_format="tf", include_optimizer=True,
           signatures={"serving_default": serving.get_concrete_function(),
                       "logits": logits_fn.get_concrete_function()})
x_test = rng.standard_normal((3, 8, 8, 3)).astype(np.float32)
np.savez(os.path.join(HERE, "keras2_adam_reference.npz"), image=x_test,
         probs=model(x_test, training=False).numpy(), logits=logit_model(x_test, training=False).numpy())
print("wrote", OUT, tf.__version__)

# As res2stanet-base-26w4s with attention between the splits (queries and
# keys of 8 channels) in place of the chain.
_base_ = ['./res2stanet-base-26w4s_r18_1xb8-300iter_synthlevircd-64x64.py']
model = dict(neck=dict(mixing='attention', key_channels=8))

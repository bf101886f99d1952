# STANet-PAM on LEVIR-CD's 256x256 patches: the base model and training,
# with the pyramid spatial-temporal attention module.
_base_ = './stanet-base_r18_1xb8-200e_levircd-256x256.py'
model = dict(decode_head=dict(attention='pam'))

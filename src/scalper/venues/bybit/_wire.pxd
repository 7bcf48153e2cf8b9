cpdef object decode_one(object raw, object recv_ns)
cpdef object receive_frame(object raw, object recv_ns, object on_control)
